package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Token attacks over HTTP: real JWTs forged with jwx against the running
// server's published key (and, for claim attacks, its real private key
// from the data dir, so only the one bad claim is wrong). internal/auth
// tests Verify directly; this proves the HTTP middleware uses it for
// every protected route and answers each attack with the same 401.

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// forge signs claims; typ and kid are set like the server's unless hdr
// overrides them.
func forge(t *testing.T, claims map[string]any, alg jwa.SignatureAlgorithm, key any, hdr map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatalf("claim %s: %v", k, err)
		}
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, "at+jwt")
	for k, v := range hdr {
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

func TestTokenAttacksOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("mallory@example.com")

	// The published key, as an attacker sees it.
	resp, err := http.Get(e.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	jwksBytes, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	set, err := jwk.Parse(jwksBytes)
	if err != nil || set.Len() == 0 {
		t.Fatalf("jwks: %v %s", err, jwksBytes)
	}
	pub, _ := set.Key(0)
	kid := pub.KeyID()
	pubPEM, err := jwk.EncodePEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	// The real private key, so claim attacks differ in one claim only.
	raw, err := os.ReadFile(filepath.Join(cfg.DataDir, "keys", "signing-key.jwk.json"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.ParseKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(k string, v any) map[string]any {
		c := map[string]any{
			jwt.IssuerKey: "tagstream", jwt.AudienceKey: []string{"tagstream-api"}, jwt.SubjectKey: u.id,
			jwt.IssuedAtKey: now, jwt.NotBeforeKey: now, jwt.ExpirationKey: now.Add(10 * time.Minute),
			jwt.JwtIDKey: "forged", "email": u.email, "role": "user", "token_use": "access",
		}
		if k != "" {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	protected := func(token string) (int, map[string]any) {
		return e.call("GET", "/api/batch/active", token, nil)
	}

	// Control: a token we forge with the real key and honest claims works,
	// so every 401 below is caused by its one change.
	if st, body := protected(forge(t, claims("", nil), jwa.ES256, priv, nil)); st != http.StatusOK {
		t.Fatalf("control token refused: %d %v", st, body)
	}

	st, login := e.call("POST", "/api/auth/login", "", map[string]any{"email": u.email, "password": "correct-horse-1"})
	if st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
	refresh := login["tokens"].(map[string]any)["refresh_token"].(string)
	parts := strings.Split(u.token, ".")
	payload := map[string]any{}
	pl, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(pl, &payload)
	payload["role"] = "admin"
	noneClaims := map[string]any{"iss": "tagstream", "aud": []string{"tagstream-api"}, "sub": u.id, "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "role": "admin", "token_use": "access"}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	attacks := map[string]string{
		"alg none":                      b64json(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + b64json(noneClaims) + ".",
		"alg none, real signature kept": b64json(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "." + parts[2],
		"HS256 keyed with the PEM":      forge(t, claims("", nil), jwa.HS256, pubPEM, map[string]any{"kid": kid}),
		"HS256 keyed with the JWKS":     forge(t, claims("", nil), jwa.HS256, jwksBytes, map[string]any{"kid": kid}),
		"expired":                       forge(t, claims(jwt.ExpirationKey, now.Add(-time.Hour)), jwa.ES256, priv, nil),
		"not yet valid":                 forge(t, claims(jwt.NotBeforeKey, now.Add(time.Hour)), jwa.ES256, priv, nil),
		"wrong issuer":                  forge(t, claims(jwt.IssuerKey, "https://evil.example"), jwa.ES256, priv, nil),
		"wrong audience":                forge(t, claims(jwt.AudienceKey, []string{"another-api"}), jwa.ES256, priv, nil),
		"no subject":                    forge(t, claims(jwt.SubjectKey, nil), jwa.ES256, priv, nil),
		"token_use refresh":             forge(t, claims("token_use", "refresh"), jwa.ES256, priv, nil),
		"typ JWT instead of at+jwt":     forge(t, claims("", nil), jwa.ES256, priv, map[string]any{"typ": "JWT"}),
		"unknown role":                  forge(t, claims("role", "superuser"), jwa.ES256, priv, nil),
		"refresh token as access token": refresh,
		"tampered payload (role admin)": parts[0] + "." + b64json(payload) + "." + parts[2],
		"other ES256 key, server's kid": forge(t, claims("", nil), jwa.ES256, other, map[string]any{"kid": kid}),
		"extra segment":                 u.token + ".e30",
		"JSON serialisation":            `{"payload":"` + parts[1] + `","signatures":[]}`,
		"oversized":                     strings.Repeat("a", 9<<10) + "." + parts[1] + "." + parts[2],
	}
	var details []string
	for name, token := range attacks {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/api/batch/active", "/api/auth/me", "/api/batch/jobs"} {
				st, body := e.call("GET", path, token, nil)
				if st != http.StatusUnauthorized || body["code"] != "unauthorized" {
					t.Fatalf("GET %s: %d %v, want 401 unauthorized", path, st, body)
				}
				details = append(details, body["detail"].(string))
			}
			st, body := e.call("POST", "/api/batch/start", token, startBody(nil))
			if st != http.StatusUnauthorized {
				t.Fatalf("start: %d %v", st, body)
			}
		})
	}
	// One answer for every failure: the response never says which check failed.
	for _, d := range details {
		if d != details[0] {
			t.Fatalf("details differ between attacks: %q vs %q", d, details[0])
		}
	}
}
