package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// maxTokenLen bounds the work done on a token before any check: real ID
// and access tokens are one or two KiB.
const maxTokenLen = 16 << 10

// Rejected says why a token was refused. Reason is a short phrase meant
// for the 401 answer: it names the failed check, never key material.
type Rejected struct{ Reason string }

func (e *Rejected) Error() string { return "token rejected: " + e.Reason }

func reject(format string, args ...any) error { return &Rejected{Reason: fmt.Sprintf(format, args...)} }

// Unavailable means the provider could not be reached to fetch keys.
type Unavailable struct{ Err error }

func (e *Unavailable) Error() string { return "identity provider unreachable: " + e.Err.Error() }
func (e *Unavailable) Unwrap() error { return e.Err }

// Identity is what a verified token says about its bearer.
type Identity struct {
	Issuer, Subject string
	Email           string
	EmailVerified   bool
	Name            string
	IssuedAt        time.Time
	Expiry          time.Time
	// KeyID names the provider key that signed the token, so a cache of
	// verified tokens can drop them when the key leaves the JWKS.
	KeyID string
	// Claims holds every claim of the token, so that role (and later
	// organisation) mapping can read whichever claim the operator names.
	Claims map[string]any
}

// header is the JOSE header, read before any cryptography so that the
// algorithm can be refused without touching a key.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// allowedAlgs pins the signature algorithms: asymmetric only, so neither
// "none" nor an HMAC keyed with a public key can ever verify.
var allowedAlgs = map[string]jwa.SignatureAlgorithm{"RS256": jwa.RS256, "ES256": jwa.ES256}

// PeekIssuer returns the "iss" a JWT claims, without verifying anything,
// only so that a caller can pick the verifier; "" when unreadable.
func PeekIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(token) > maxTokenLen || len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Iss
}

// Verify checks a JWT issued by the provider for this client (an ID token
// or a JWT access token): signature with a current provider key and a
// pinned algorithm, issuer, audience, expiry and not-before (with
// Leeway), and a subject.
func (p *Provider) Verify(ctx context.Context, token string) (Identity, error) {
	return p.verify(ctx, token, "")
}

// VerifyIDToken is Verify plus the nonce the sign-in sent, which binds the
// ID token to that sign-in (OpenID Connect Core 3.1.3.7).
func (p *Provider) VerifyIDToken(ctx context.Context, token, nonce string) (Identity, error) {
	if nonce == "" {
		return Identity{}, reject("no nonce to check the ID token against")
	}
	return p.verify(ctx, token, nonce)
}

func (p *Provider) verify(ctx context.Context, token, nonce string) (Identity, error) {
	parts := strings.Split(token, ".")
	if len(token) > maxTokenLen || len(parts) != 3 {
		return Identity{}, reject("not a compact JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	var h header
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return Identity{}, reject("malformed JOSE header")
	}
	alg, ok := allowedAlgs[h.Alg]
	if !ok {
		return Identity{}, reject("algorithm %q is not accepted (only RS256 and ES256)", clip(h.Alg))
	}
	key, err := p.key(ctx, h.Kid, alg)
	if err != nil {
		return Identity{}, err
	}
	tok, err := jwt.Parse([]byte(token),
		jwt.WithKey(alg, key),
		jwt.WithValidate(true),
		jwt.WithIssuer(p.cfg.Issuer),
		jwt.WithAudience(p.cfg.ClientID),
		jwt.WithClock(jwt.ClockFunc(p.cfg.Now)),
		jwt.WithAcceptableSkew(p.cfg.Leeway),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	)
	if err != nil {
		return Identity{}, explain(err)
	}
	claims, err := tok.AsMap(ctx)
	if err != nil {
		return Identity{}, reject("unreadable claims")
	}
	// With several audiences, azp names the party the token was issued to
	// (Core 3.1.3.7 item 5); it must be us.
	if azp, ok := claims["azp"].(string); ok && len(tok.Audience()) > 1 && azp != p.cfg.ClientID {
		return Identity{}, reject("token was issued to another client (azp)")
	}
	if nonce != "" {
		if got, _ := claims["nonce"].(string); got != nonce {
			return Identity{}, reject("ID token nonce does not match this sign-in")
		}
	}
	id := Identity{Issuer: tok.Issuer(), Subject: tok.Subject(), IssuedAt: tok.IssuedAt(), Expiry: tok.Expiration(),
		Claims: claims, KeyID: key.KeyID()}
	id.Email, _ = claims["email"].(string)
	id.EmailVerified, _ = claims["email_verified"].(bool)
	id.Name, _ = claims["name"].(string)
	return id, nil
}

// HasKey reports whether the provider's key set, as last fetched, still
// holds kid. It costs a map lookup: the cache refetches in the background.
func (p *Provider) HasKey(ctx context.Context, kid string) bool {
	set, err := p.keys.Get(ctx, p.meta.JWKSURI)
	if err != nil {
		return false
	}
	_, ok := set.LookupKeyID(kid)
	return ok
}

// explain turns a jwx parse error into the reason given to the caller.
func explain(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired()):
		return reject("token has expired")
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return reject("token is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return reject("token issuer is not the configured provider")
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return reject("token audience does not include this client")
	case errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return reject("token is issued in the future (iat)")
	case errors.Is(err, jwt.ErrMissingRequiredClaim("")):
		return reject("token lacks a required claim (sub, exp)")
	case jwt.IsValidationError(err):
		return reject("token claims are invalid")
	default:
		return reject("signature does not verify")
	}
}

// key finds the provider key named kid that can verify alg. A kid the
// cached set does not know forces one fetch of the JWKS (a rotation at the
// provider), at most once per KeyRefreshGap.
func (p *Provider) key(ctx context.Context, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	set, err := p.keys.Get(ctx, p.meta.JWKSURI)
	if err != nil {
		return nil, &Unavailable{Err: err}
	}
	k, ok := pick(set, kid, alg)
	if !ok {
		if set, err = p.refreshOnce(ctx); err != nil {
			return nil, err
		}
		if k, ok = pick(set, kid, alg); !ok {
			return nil, reject("signing key %q is not among the provider's keys", clip(kid))
		}
	}
	return k, usable(k, alg)
}

func (p *Provider) refreshOnce(ctx context.Context) (jwk.Set, error) {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	now := p.cfg.Now()
	if now.Sub(p.lastRefresh) < p.cfg.KeyRefreshGap && !now.Before(p.lastRefresh) {
		// Refreshed a moment ago (perhaps by a concurrent caller): use that.
		set, err := p.keys.Get(ctx, p.meta.JWKSURI)
		if err != nil {
			return nil, &Unavailable{Err: err}
		}
		return set, nil
	}
	p.lastRefresh = now
	set, err := p.keys.Refresh(ctx, p.meta.JWKSURI)
	if err != nil {
		return nil, &Unavailable{Err: err}
	}
	return set, nil
}

// pick returns the key with the given kid; without a kid, the only key of
// the set whose type fits alg.
func pick(set jwk.Set, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, bool) {
	if kid != "" {
		return set.LookupKeyID(kid)
	}
	var found jwk.Key
	for i := range set.Len() {
		k, _ := set.Key(i)
		if k.KeyType() == keyTypeOf(alg) {
			if found != nil {
				return nil, false // ambiguous: a kid is required
			}
			found = k
		}
	}
	return found, found != nil
}

func keyTypeOf(alg jwa.SignatureAlgorithm) jwa.KeyType {
	if alg == jwa.ES256 {
		return jwa.EC
	}
	return jwa.RSA
}

// usable checks that the key is meant for signatures with exactly alg, so
// that a header cannot pick an algorithm the key was not published for.
func usable(k jwk.Key, alg jwa.SignatureAlgorithm) error {
	if k.KeyType() != keyTypeOf(alg) {
		return reject("key %q is not a key for %s", clip(k.KeyID()), alg)
	}
	if a := k.Algorithm(); a != nil && a.String() != "" && a.String() != alg.String() {
		return reject("key %q is published for %s, not %s", clip(k.KeyID()), a, alg)
	}
	if u := k.KeyUsage(); u != "" && u != "sig" {
		return reject("key %q is not a signing key", clip(k.KeyID()))
	}
	if alg == jwa.ES256 {
		var pub ecdsa.PublicKey
		if err := k.Raw(&pub); err != nil || pub.Curve != elliptic.P256() {
			return reject("key %q is not a P-256 key", clip(k.KeyID()))
		}
	}
	return nil
}

// clip keeps caller-chosen header values short in messages.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
