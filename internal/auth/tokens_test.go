package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tagstream/tagstream/internal/apperr"
)

// goodClaims returns the claims our service would issue for u at now, so an
// attack can change exactly one thing.
func (f *fixture) goodClaims(u User, now time.Time) map[string]any {
	return map[string]any{
		jwt.IssuerKey:     "tagstream",
		jwt.AudienceKey:   []string{"tagstream-api"},
		jwt.SubjectKey:    u.ID,
		jwt.IssuedAtKey:   now,
		jwt.NotBeforeKey:  now,
		jwt.ExpirationKey: now.Add(15 * time.Minute),
		jwt.JwtIDKey:      "test-jti",
		"email":           u.Email,
		"role":            string(u.Role),
		"token_use":       "access",
	}
}

// sign builds a real JWT from claims with the given algorithm and key; the
// header gets typ and kid as our tokens have them unless overridden.
func sign(t *testing.T, claims map[string]any, alg jwa.SignatureAlgorithm, key any, hdrs map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, accessTyp)
	for k, v := range hdrs {
		if err := h.Set(k, v); err != nil {
			t.Fatalf("header %s: %v", k, err)
		}
	}
	b, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return string(b)
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// claimsJSON renders claims the way they appear on the wire (NumericDate
// seconds), for tokens assembled by hand.
func claimsJSON(claims map[string]any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		if tm, ok := v.(time.Time); ok {
			out[k] = tm.Unix()
			continue
		}
		out[k] = v
	}
	return out
}

func TestVerifyAcceptsOwnTokenAndChecksHeader(t *testing.T) {
	f := newFixture(t, nil)
	u, tok := f.mustLogin(t, "carol@example.com")
	msg, err := jws.Parse([]byte(tok.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.Algorithm() != jwa.ES256 || h.KeyID() != f.svc.key.KeyID() || h.KeyID() == "" || h.Type() != "at+jwt" {
		t.Fatalf("header alg=%s kid=%q typ=%q", h.Algorithm(), h.KeyID(), h.Type())
	}
	parsed, err := jwt.Parse([]byte(tok.AccessToken), jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	if parsed.Issuer() != "tagstream" || len(parsed.Audience()) != 1 || parsed.Audience()[0] != "tagstream-api" ||
		parsed.Subject() != u.ID || parsed.JwtID() == "" || !parsed.IssuedAt().Equal(now) ||
		!parsed.NotBefore().Equal(now) || !parsed.Expiration().Equal(now.Add(15*time.Minute)) {
		t.Fatalf("registered claims wrong: %+v", parsed)
	}
	for k, want := range map[string]string{"email": u.Email, "role": "user", "token_use": "access"} {
		if got, _ := stringClaim(parsed, k); got != want {
			t.Fatalf("claim %s = %q, want %q", k, got, want)
		}
	}
	// Our own hand-signed copy of the good claims must pass: this proves
	// the attack tests below fail because of their one change, not because
	// the helper builds broken tokens.
	good := sign(t, f.goodClaims(u, now), jwa.ES256, f.svc.key, nil)
	if _, err := f.svc.Verify(context.Background(), good); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
}

func TestVerifyRejectsAttacks(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	u, tok := f.mustLogin(t, "mallory@example.com")
	now := f.clock.Now()
	kid := f.svc.key.KeyID()
	with := func(k string, v any) map[string]any {
		c := f.goodClaims(u, now)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	parts := strings.Split(tok.AccessToken, ".")

	pubJWKS, err := f.svc.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := f.svc.key.PublicKey()
	pubPEM, err := jwk.EncodePEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	var rawPub ecdsa.PublicKey
	if err := pub.Raw(&rawPub); err != nil {
		t.Fatal(err)
	}
	pubPoint, _ := rawPub.ECDH()

	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherP384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)

	// The tampered payload keeps the original signature but claims admin.
	var payload map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(raw, &payload)
	payload["role"] = "admin"
	tampered := parts[0] + "." + b64(payload) + "." + parts[2]

	sigBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sigBytes[len(sigBytes)/2] ^= 0x01
	badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sigBytes)

	noneHdr := b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid})
	nonePayload := b64(claimsJSON(f.goodClaims(u, now)))
	adminPayload := claimsJSON(f.goodClaims(u, now))
	adminPayload["role"] = "admin"

	attacks := map[string]string{
		"wrong signature":                 badSig,
		"tampered payload":                tampered,
		"alg none empty signature":        noneHdr + "." + nonePayload + ".",
		"alg none with original sig":      noneHdr + "." + nonePayload + "." + parts[2],
		"alg None capitalised":            b64(map[string]any{"alg": "None", "kid": kid}) + "." + b64(adminPayload) + ".",
		"hs256 with jwks bytes as secret": sign(t, f.goodClaims(u, now), jwa.HS256, pubJWKS, map[string]any{"kid": kid}),
		"hs256 with public pem as secret": sign(t, f.goodClaims(u, now), jwa.HS256, pubPEM, map[string]any{"kid": kid}),
		"hs256 with raw point as secret":  sign(t, f.goodClaims(u, now), jwa.HS256, pubPoint.Bytes(), map[string]any{"kid": kid}),
		"hs256 without kid":               sign(t, f.goodClaims(u, now), jwa.HS256, pubPEM, nil),
		"other es256 key, our kid":        sign(t, f.goodClaims(u, now), jwa.ES256, otherEC, map[string]any{"kid": kid}),
		"other es256 key, no kid":         sign(t, f.goodClaims(u, now), jwa.ES256, otherEC, nil),
		"other es256 key, own kid":        sign(t, f.goodClaims(u, now), jwa.ES256, otherEC, map[string]any{"kid": "attacker"}),
		"wrong key type rsa":              sign(t, f.goodClaims(u, now), jwa.RS256, otherRSA, map[string]any{"kid": kid}),
		"wrong key type p384":             sign(t, f.goodClaims(u, now), jwa.ES384, otherP384, map[string]any{"kid": kid}),
		"wrong key type ed25519":          sign(t, f.goodClaims(u, now), jwa.EdDSA, otherEd, map[string]any{"kid": kid}),
		"header alg swapped to ES384":     b64(map[string]any{"alg": "ES384", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "." + parts[2],
		"header kid removed":              b64(map[string]any{"alg": "ES256", "typ": "at+jwt"}) + "." + parts[1] + "." + parts[2],
		"wrong issuer":                    sign(t, with(jwt.IssuerKey, "evil"), jwa.ES256, f.svc.key, nil),
		"missing issuer":                  sign(t, with(jwt.IssuerKey, nil), jwa.ES256, f.svc.key, nil),
		"wrong audience":                  sign(t, with(jwt.AudienceKey, []string{"other-api"}), jwa.ES256, f.svc.key, nil),
		"missing audience":                sign(t, with(jwt.AudienceKey, nil), jwa.ES256, f.svc.key, nil),
		"missing sub":                     sign(t, with(jwt.SubjectKey, nil), jwa.ES256, f.svc.key, nil),
		"empty sub":                       sign(t, with(jwt.SubjectKey, ""), jwa.ES256, f.svc.key, nil),
		"missing exp":                     sign(t, with(jwt.ExpirationKey, nil), jwa.ES256, f.svc.key, nil),
		"missing iat":                     sign(t, with(jwt.IssuedAtKey, nil), jwa.ES256, f.svc.key, nil),
		"expired":                         sign(t, with(jwt.ExpirationKey, now.Add(-time.Minute)), jwa.ES256, f.svc.key, nil),
		"nbf in future":                   sign(t, with(jwt.NotBeforeKey, now.Add(5*time.Minute)), jwa.ES256, f.svc.key, nil),
		"iat in future":                   sign(t, with(jwt.IssuedAtKey, now.Add(5*time.Minute)), jwa.ES256, f.svc.key, nil),
		"unknown role":                    sign(t, with("role", "superuser"), jwa.ES256, f.svc.key, nil),
		"token_use refresh":               sign(t, with("token_use", "refresh"), jwa.ES256, f.svc.key, nil),
		"token_use missing":               sign(t, with("token_use", nil), jwa.ES256, f.svc.key, nil),
		"typ JWT (not an access token)":   sign(t, f.goodClaims(u, now), jwa.ES256, f.svc.key, map[string]any{"typ": "JWT"}),
		"refresh token as access token":   tok.RefreshToken,
		"empty":                           "",
		"garbage":                         "not a token",
		"three garbage parts":             "a.b.c",
		"four parts":                      tok.AccessToken + ".x",
		"huge":                            strings.Repeat("a", 10_000) + "." + parts[1] + "." + parts[2],
		"json serialisation":              `{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`,
		"bearer prefix left in":           "Bearer " + tok.AccessToken,
	}
	for name, token := range attacks {
		t.Run(name, func(t *testing.T) {
			c, err := f.svc.Verify(ctx, token)
			wantCode(t, err, apperr.Unauthorized)
			if c != (Claims{}) {
				t.Fatalf("claims returned on failure: %+v", c)
			}
		})
	}
	// The genuine token is still fine, so the rejections above are not a
	// broken service.
	if _, err := f.svc.Verify(ctx, tok.AccessToken); err != nil {
		t.Fatalf("genuine token rejected: %v", err)
	}
}

func TestVerifyTimeWindows(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	u, tok := f.mustLogin(t, "dave@example.com")
	start := f.clock.Now()

	// Just inside the 30 s skew after expiry: still accepted.
	f.clock.Advance(15*time.Minute + 20*time.Second)
	if _, err := f.svc.Verify(ctx, tok.AccessToken); err != nil {
		t.Fatalf("token within skew rejected: %v", err)
	}
	// Beyond the skew: expired via the configured clock.
	f.clock.Advance(15 * time.Second)
	_, err := f.svc.Verify(ctx, tok.AccessToken)
	wantCode(t, err, apperr.Unauthorized)

	// A token from a clock 10 s ahead is tolerated; 2 min ahead is not.
	f.clock.Advance(-(15*time.Minute + 35*time.Second))
	ahead := func(d time.Duration) string {
		c := f.goodClaims(u, start.Add(d))
		return sign(t, c, jwa.ES256, f.svc.key, nil)
	}
	if _, err := f.svc.Verify(ctx, ahead(10*time.Second)); err != nil {
		t.Fatalf("token 10s ahead rejected: %v", err)
	}
	_, err = f.svc.Verify(ctx, ahead(2*time.Minute))
	wantCode(t, err, apperr.Unauthorized)
}

func TestCustomIssuerAudienceTTL(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Issuer, c.Audience, c.AccessTTL = "https://issuer.test", "aud-x", 5*time.Minute
	})
	_, tok := f.mustLogin(t, "erin@example.com")
	if tok.ExpiresIn != 300 {
		t.Fatalf("expires_in %d", tok.ExpiresIn)
	}
	parsed, _ := jwt.Parse([]byte(tok.AccessToken), jwt.WithVerify(false), jwt.WithValidate(false))
	if parsed.Issuer() != "https://issuer.test" || parsed.Audience()[0] != "aud-x" {
		t.Fatalf("iss/aud %q %v", parsed.Issuer(), parsed.Audience())
	}
	if _, err := f.svc.Verify(context.Background(), tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	// A default-configured service sharing the key still refuses it, since
	// issuer and audience differ.
	other, err := New(context.Background(), f.js, Config{KeyDir: f.keyDir, Now: f.clock.Now, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Verify(context.Background(), tok.AccessToken)
	wantCode(t, err, apperr.Unauthorized)
}
