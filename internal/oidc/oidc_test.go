package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tagstream/tagstream/internal/oidc"
	"github.com/tagstream/tagstream/internal/oidc/oidctest"
	"github.com/tagstream/tagstream/internal/testenv"
)

// countingTransport counts JWKS fetches.
type countingTransport struct{ jwks atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "keys") {
		c.jwks.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

type rig struct {
	op    *oidctest.Provider
	p     *oidc.Provider
	clock *testenv.Clock
	fetch *countingTransport
}

func newRig(t testing.TB, client string) *rig {
	t.Helper()
	op := oidctest.Start(t)
	ck := testenv.NewClock(time.Now())
	ct := &countingTransport{}
	p, err := oidc.Discover(context.Background(), oidc.Config{Issuer: op.Issuer, ClientID: client, ClientSecret: op.Clients[client],
		HTTPClient: &http.Client{Transport: ct, Timeout: 10 * time.Second}, Now: ck.Now})
	if err != nil {
		t.Fatalf("discover: %v", err)
	}
	t.Cleanup(p.Close)
	return &rig{op: op, p: p, clock: ck, fetch: ct}
}

const redirect = "http://127.0.0.1:1/auth/sso/callback"

// signIn runs the whole code flow with PKCE at the real provider and
// returns the verified ID token's raw form and the nonce it carries.
func (r *rig) signIn(t *testing.T, user string) (idToken, nonce string) {
	t.Helper()
	state, nonce, verifier := oidc.Random(), oidc.Random(), oidc.Random()
	code, gotState := r.op.LoginCode(t, nil, r.p.AuthCodeURL(redirect, state, nonce, verifier), redirect, user, oidctest.Password)
	if gotState != state {
		t.Fatalf("state came back as %q", gotState)
	}
	idToken, err := r.p.Exchange(context.Background(), code, verifier, redirect)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return idToken, nonce
}

func TestProviderIDTokenIsVerifiedWithItsNonceAndClaims(t *testing.T) {
	r := newRig(t, "tagstream")
	tok, nonce := r.signIn(t, oidctest.AdminLogin)
	id, err := r.p.VerifyIDToken(context.Background(), tok, nonce)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if id.Subject != oidctest.AdminSubject || id.Issuer != r.op.Issuer || id.Email != oidctest.AdminEmail {
		t.Fatalf("identity = %+v", id)
	}
	if g, _ := id.Claims["groups"].([]any); len(g) == 0 || g[0] != "tagstream-admins" {
		t.Fatalf("groups claim = %v", id.Claims["groups"])
	}
	if _, err := r.p.VerifyIDToken(context.Background(), tok, "another-sign-in"); !hasReason(err, "nonce") {
		t.Fatalf("wrong nonce: %v", err)
	}
}

func TestCodeExchangeNeedsTheRightVerifierAndIsSingleUse(t *testing.T) {
	r := newRig(t, "tagstream")
	state, nonce, verifier := oidc.Random(), oidc.Random(), oidc.Random()
	code, _ := r.op.LoginCode(t, nil, r.p.AuthCodeURL(redirect, state, nonce, verifier), redirect, oidctest.StaffLogin, oidctest.Password)
	var ex *oidc.ExchangeError
	if _, err := r.p.Exchange(context.Background(), code, oidc.Random(), redirect); !errors.As(err, &ex) {
		t.Fatalf("a wrong PKCE verifier was accepted: %v", err)
	}
	if _, err := r.p.Exchange(context.Background(), code, verifier, redirect); err != nil {
		t.Fatalf("the right verifier: %v", err)
	}
	if _, err := r.p.Exchange(context.Background(), code, verifier, redirect); !errors.As(err, &ex) || ex.Code != "invalid_grant" {
		t.Fatalf("a code used once was accepted again: %v", err)
	}
}

func TestKeyRotationAtTheProviderIsPickedUp(t *testing.T) {
	r := newRig(t, "tagstream")
	old, _ := r.signIn(t, oidctest.StaffLogin)
	if _, err := r.p.Verify(context.Background(), old); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	before := r.fetch.jwks.Load()
	// The old RSA key leaves the JWKS and a new ES256 key signs: both
	// pinned algorithms are exercised.
	newKid := r.op.Rotate(true)
	fresh, _ := r.signIn(t, oidctest.StaffLogin)
	if kidOf(t, fresh) != newKid {
		t.Fatalf("the provider did not sign with the new key")
	}
	if _, err := r.p.Verify(context.Background(), fresh); err != nil {
		t.Fatalf("token signed with the rotated-in key: %v", err)
	}
	if got := r.fetch.jwks.Load() - before; got != 1 {
		t.Fatalf("rotation caused %d JWKS fetches, want 1", got)
	}
	if _, err := r.p.Verify(context.Background(), old); !hasReason(err, "not among the provider's keys") {
		t.Fatalf("token of the removed key: %v", err)
	}
}

func TestUnknownKeyIDsRefreshTheKeysAtMostOncePerGap(t *testing.T) {
	r := newRig(t, "tagstream")
	before := r.fetch.jwks.Load()
	for range 20 {
		tok := r.forge(t, jwa.RS256, "made-up-kid", nil)
		if _, err := r.p.Verify(context.Background(), tok); !hasReason(err, "not among") {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if got := r.fetch.jwks.Load() - before; got != 1 {
		t.Fatalf("20 unknown kids caused %d fetches, want 1", got)
	}
	r.clock.Advance(11 * time.Second)
	_, _ = r.p.Verify(context.Background(), r.forge(t, jwa.RS256, "made-up-kid", nil))
	if got := r.fetch.jwks.Load() - before; got != 2 {
		t.Fatalf("after the gap: %d fetches, want 2", got)
	}
}

func TestRefusedTokensNameTheFailedCheck(t *testing.T) {
	r := newRig(t, "tagstream")
	other := newRigOn(t, r.op, "other-app")
	foreign, _ := other.signIn(t, oidctest.StaffLogin)
	valid, _ := r.signIn(t, oidctest.StaffLogin)
	kid, _, _ := r.op.Key()
	cases := []struct {
		name, token, reason string
		later               time.Duration
	}{
		{"another audience (a real token for other-app)", foreign, "audience", 0},
		{"expired (the provider's token, a day later)", valid, "expired", 24 * time.Hour},
		{"wrong issuer, signed with the provider's key", r.forge(t, jwa.RS256, kid, map[string]any{"iss": "https://evil.example"}), "issuer", 0},
		{"not yet valid", r.forge(t, jwa.RS256, kid, map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}), "not valid yet", 0},
		{"HS256", r.forge(t, jwa.HS256, kid, nil), `"HS256" is not accepted`, 0},
		{"none", unsigned(t, r.op.Issuer), `"none" is not accepted`, 0},
		{"signature of another key", r.forgeWithForeignKey(t, kid), "signature", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.clock.Advance(c.later)
			defer r.clock.Advance(-c.later)
			_, err := r.p.Verify(context.Background(), c.token)
			if !hasReason(err, c.reason) {
				t.Fatalf("got %v, want a rejection naming %q", err, c.reason)
			}
		})
	}
}

func TestDiscoveryRefusesADocumentForAnotherIssuer(t *testing.T) {
	op := oidctest.Start(t)
	_, err := oidc.Discover(context.Background(), oidc.Config{Issuer: op.Issuer + "/", ClientID: "tagstream"})
	if err == nil || !strings.Contains(err.Error(), "names issuer") {
		t.Fatalf("issuer mismatch: %v", err)
	}
	if _, err := oidc.Discover(context.Background(), oidc.Config{Issuer: "http://idp.example.com", ClientID: "x"}); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("plain http issuer off loopback: %v", err)
	}
}

func newRigOn(t *testing.T, op *oidctest.Provider, client string) *rig {
	p, err := oidc.Discover(context.Background(), oidc.Config{Issuer: op.Issuer, ClientID: client, ClientSecret: op.Clients[client]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &rig{op: op, p: p, clock: testenv.NewClock(time.Now())}
}

// forge signs claims (a valid token's, with overrides) with the
// provider's current key, or for HS256 with an HMAC of its public modulus.
func (r *rig) forge(t testing.TB, alg jwa.SignatureAlgorithm, kid string, over map[string]any) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": r.op.Issuer, "aud": "tagstream", "sub": "id2", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range over {
		claims[k] = v
	}
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	_, _, priv := r.op.Key()
	var key any = priv
	if alg == jwa.HS256 {
		key = []byte("the provider's public key bytes, as an attacker would use them")
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// forgeWithForeignKey signs with a key of the same kind that the provider
// never published, under the provider's kid.
func (r *rig) forgeWithForeignKey(t *testing.T, kid string) string {
	t.Helper()
	other := oidctest.Start(t)
	_, _, priv := other.Key()
	now := time.Now()
	tok, _ := jwt.NewBuilder().Issuer(r.op.Issuer).Audience([]string{"tagstream"}).Subject("id2").IssuedAt(now).Expiration(now.Add(time.Hour)).Build()
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func unsigned(t testing.TB, iss string) string {
	t.Helper()
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	now := time.Now()
	return enc(map[string]any{"alg": "none", "typ": "JWT"}) + "." +
		enc(map[string]any{"iss": iss, "aud": "tagstream", "sub": "id2", "exp": now.Add(time.Hour).Unix()}) + "."
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}

func hasReason(err error, want string) bool {
	var rej *oidc.Rejected
	return errors.As(err, &rej) && strings.Contains(rej.Reason, want)
}
