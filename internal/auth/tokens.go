package auth

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/oidc"
)

const (
	// accessTyp is the JOSE typ of access tokens (RFC 9068), so that other
	// JWTs, such as ID tokens, are never mistaken for them.
	accessTyp = "at+jwt"
	// tokenUseAccess is also a claim, because some proxies strip or ignore
	// the header; either being wrong rejects the token.
	tokenUseAccess = "access"
	// clockSkew tolerates small clock differences between our processes.
	clockSkew = 30 * time.Second
	// maxTokenLen bounds work done on garbage; our tokens are ~600 bytes.
	maxTokenLen = 8 << 10
	// maxFederatedTokenLen is oidc's own bound on provider tokens.
	maxFederatedTokenLen = 16 << 10
)

// errBadToken is the single answer to every rejected access token, so the
// response never tells an attacker which check failed.
func errBadToken() error { return apperr.New(apperr.Unauthorized, "invalid or expired access token") }

// issueAccess signs an access token for u that is valid from now for
// AccessTTL.
func (s *Service) issueAccess(u User, sid string, now time.Time) (string, error) {
	tok, err := jwt.NewBuilder().
		Issuer(s.cfg.Issuer).
		Audience([]string{s.cfg.Audience}).
		Subject(u.ID).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(s.cfg.AccessTTL)).
		JwtID(randomString(16)).
		Claim("email", u.Email).
		Claim("role", string(u.Role)).
		Claim("token_use", tokenUseAccess).
		// sid names the session (refresh family) so that logging out
		// revokes its access tokens; iat_ms orders the token against an
		// account-wide revocation more finely than iat's seconds.
		Claim("sid", sid).
		Claim("iat_ms", now.UnixMilli()).
		Build()
	if err != nil {
		return "", apperr.Wrap(err, "auth: build access token")
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, accessTyp); err != nil {
		return "", apperr.Wrap(err, "auth: access token header")
	}
	// The kid comes from the key itself, so verifiers can pick the key from
	// the JWKS.
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, s.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", apperr.Wrap(err, "auth: sign access token")
	}
	return string(signed), nil
}

// Verify checks an access token and returns what it says about its bearer.
// A refused Tagstream token is Unauthorized with one fixed message; a
// refused provider token (single sign-on) names the failed check, since
// its owner must be able to tell a wrong audience from an expired token.
func (s *Service) Verify(ctx context.Context, accessToken string) (Claims, error) {
	limit := maxTokenLen
	if s.cfg.OIDC != nil {
		limit = maxFederatedTokenLen // a provider's tokens may carry long group lists
	}
	// Only compact serialisation is accepted: the JSON serialisation can
	// carry several signatures and unprotected headers, and we never issue it.
	if len(accessToken) > limit || strings.Count(accessToken, ".") != 2 {
		return Claims{}, errBadToken()
	}
	now := s.cfg.Now()
	if e, ok := s.verified.get(accessToken, now); ok && s.stillPublished(ctx, e.kid) {
		if s.revoked(e.sid, e.claims.UserID, e.issuedMs, now) {
			return Claims{}, errBadToken()
		}
		return e.claims, nil
	}
	if f := s.cfg.OIDC; f != nil {
		// Route by the claimed issuer; each path then checks everything.
		// With a provider configured, a third issuer gets a clear reason.
		switch iss := oidc.PeekIssuer(accessToken); {
		case iss == f.Provider.Issuer():
			return s.verifyFederated(ctx, accessToken, now)
		case iss != s.cfg.Issuer:
			return Claims{}, apperr.New(apperr.Unauthorized, "token issuer is not accepted (neither Tagstream nor the configured OpenID provider)")
		}
	}
	raw := []byte(accessToken)

	// The key set pins both the key (by kid) and the algorithm (from the
	// key, never from the header), which defeats alg=none, HS256-with-the-
	// public-key and foreign keys.
	tok, err := jwt.Parse(raw,
		jwt.WithKeySet(s.pubSet),
		jwt.WithValidate(true),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(s.cfg.Audience),
		jwt.WithClock(jwt.ClockFunc(s.cfg.Now)),
		jwt.WithAcceptableSkew(clockSkew),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithClaimValue("token_use", tokenUseAccess),
	)
	if err != nil {
		return Claims{}, errBadToken()
	}
	// The signature covers the header too, so reading typ after a
	// successful verification is safe.
	msg, err := jws.Parse(raw)
	if err != nil || len(msg.Signatures()) != 1 || msg.Signatures()[0].ProtectedHeaders().Type() != accessTyp {
		return Claims{}, errBadToken()
	}

	email, _ := stringClaim(tok, "email")
	roleStr, _ := stringClaim(tok, "role")
	role := Role(roleStr)
	if tok.Subject() == "" || !role.valid() {
		return Claims{}, errBadToken()
	}
	cl := Claims{UserID: tok.Subject(), Email: email, Role: role}
	sid, _ := stringClaim(tok, "sid")
	issuedMs := tok.IssuedAt().UnixMilli()
	if v, ok := tok.Get("iat_ms"); ok {
		if f, ok := v.(float64); ok {
			issuedMs = int64(f)
		}
	}
	if s.revoked(sid, cl.UserID, issuedMs, now) {
		return Claims{}, errBadToken()
	}
	s.verified.put(accessToken, verifiedEntry{claims: cl, sid: sid, issuedMs: issuedMs}, tok.Expiration(), now)
	return cl, nil
}

// verifiedCacheSize bounds the cache of verified access tokens (each entry
// is the token, ~600 bytes, and its claims).
const verifiedCacheSize = 4096

// verifiedCache remembers access tokens that passed every check, until
// their expiry. Verify depends only on the token's bytes, the fixed key set
// and the clock, so a hit gives the same answer as verifying again; it
// saves the ECDSA verification and two JWT parses that dominated every
// authenticated request (about 80% of a job-status request's CPU). Only
// successes are cached: a forged or altered token never matches an entry,
// since the key is the whole token.
type verifiedCache struct {
	mu sync.Mutex
	m  map[string]verifiedEntry
}

type verifiedEntry struct {
	claims   Claims
	sid      string // session, checked against the revocation list on every hit
	issuedMs int64
	kid      string    // a provider token's signing key: the entry lapses when the key leaves the JWKS
	at       time.Time // when it was verified; a clock stepped back before it re-verifies
	exp      time.Time
}

func (c *verifiedCache) get(token string, now time.Time) (verifiedEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[token]
	if !ok {
		return verifiedEntry{}, false
	}
	if !now.Before(e.exp) || now.Before(e.at) {
		delete(c.m, token)
		return verifiedEntry{}, false
	}
	return e, true
}

func (c *verifiedCache) put(token string, e verifiedEntry, exp, now time.Time) {
	if !now.Before(exp) {
		return // accepted within the clock skew only: verify it every time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]verifiedEntry{}
	}
	if len(c.m) >= verifiedCacheSize {
		for k, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= verifiedCacheSize {
			clear(c.m)
		}
	}
	e.at, e.exp = now, exp
	c.m[token] = e
}

func stringClaim(tok jwt.Token, name string) (string, bool) {
	v, ok := tok.Get(name)
	if !ok {
		return "", false
	}
	str, ok := v.(string)
	return str, ok
}
