package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/oidc"
)

// Federation is single sign-on through an OpenID Connect provider: the
// provider's JWTs are accepted as access tokens, and its sign-in opens a
// Tagstream session. An account is the pair (issuer, subject), never the
// email alone, so an address claimed at the provider cannot take over a
// password account.
type Federation struct {
	Provider *oidc.Provider
	Mapping  ClaimMapping
	// SessionMax ends a console session opened through the provider this
	// long after sign-in, refreshes or not (TAGSTREAM_OIDC_SESSION_MAX;
	// default 12h), so that a user removed or regrouped at the provider
	// keeps their old access at most that long.
	SessionMax time.Duration
	// Memberships, when set, keeps the user's organisation memberships in
	// line with Mapping.OrgClaim at each sign-in and each newly seen
	// provider token (services.SSOMemberships).
	Memberships MembershipSync
}

// MembershipSync applies the organisations a provider's claims name
// (OrgValues) to the account, with the organisation role that role maps to.
type MembershipSync interface {
	Sync(ctx context.Context, userID, email, role string, orgValues []string) error
}

// DefaultSessionMax is Federation.SessionMax when unset.
const DefaultSessionMax = 12 * time.Hour

// ClaimMapping turns the provider's claims into Tagstream's grants. It is
// configuration (TAGSTREAM_OIDC_ROLE_CLAIM, TAGSTREAM_OIDC_ROLES,
// TAGSTREAM_OIDC_DEFAULT_ROLE), evaluated at every verification, so the
// provider stays the source of truth for who holds which role.
type ClaimMapping struct {
	// RoleClaim names the claim that carries groups or roles; a dotted
	// path reaches into objects (Keycloak's "realm_access.roles"). Its
	// value may be a string or a list of strings.
	RoleClaim string
	// Roles maps a value of RoleClaim to a role; when several values map,
	// the strongest role wins.
	Roles map[string]Role
	// DefaultRole is the role of a user none of whose values map; empty
	// refuses such users (the provider admits more people than Tagstream).
	DefaultRole Role
	// OrgClaim names the claim (a dotted path, a string or a list) whose
	// values name the user's organisations (TAGSTREAM_OIDC_ORG_CLAIM);
	// empty: the provider manages no memberships.
	OrgClaim string
}

// maxOrgValues bounds the organisations one token may name (a claim is
// the provider's, but a runaway group list should not become thousands
// of events).
const maxOrgValues = 50

// Grant is what the claims entitle a user to: an account role, and the
// organisations OrgClaim names (nil when OrgClaim is unset).
type Grant struct {
	Role Role
	Orgs []string
}

// rank orders roles for "the strongest wins".
var rank = map[Role]int{RoleUser: 1, RoleAuditor: 2, RoleAdmin: 3}

// Grant maps claims to a grant; false means the user has no role here.
func (m ClaimMapping) Grant(claims map[string]any) (Grant, bool) {
	best := m.DefaultRole
	for _, v := range claimValues(claims, m.RoleClaim) {
		if r, ok := m.Roles[v]; ok && rank[r] > rank[best] {
			best = r
		}
	}
	if !best.valid() {
		return Grant{}, false
	}
	g := Grant{Role: best}
	seen := map[string]bool{}
	for _, v := range claimValues(claims, m.OrgClaim) {
		if v = strings.TrimSpace(v); v != "" && len(v) <= 200 && !seen[v] && len(g.Orgs) < maxOrgValues {
			seen[v] = true
			g.Orgs = append(g.Orgs, v)
		}
	}
	return g, true
}

// claimValues reads the strings at a dotted path: a string, or the
// strings of a list; anything else yields nothing.
func claimValues(claims map[string]any, path string) []string {
	if path == "" {
		return nil
	}
	var cur any = claims
	for _, part := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = obj[part]; !ok {
			return nil
		}
	}
	switch v := cur.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return v
	}
	return nil
}

// ParseRoleMapping reads TAGSTREAM_OIDC_ROLES: "value=role,value=role",
// for example "tagstream-admins=admin,compliance=auditor".
func ParseRoleMapping(s string) (map[string]Role, error) {
	out := map[string]Role{}
	err := eachPair(s, "claim-value=role", func(pair, value, to string) error {
		role := Role(to)
		if !role.valid() {
			return fmt.Errorf("%q: role must be user, auditor or admin", pair)
		}
		out[value] = role
		return nil
	})
	return out, err
}

// ParseOrgMapping reads TAGSTREAM_OIDC_ORGS: "value=org,value=org", where
// org is an organisation's id or name.
func ParseOrgMapping(s string) (map[string]string, error) {
	out := map[string]string{}
	err := eachPair(s, "claim-value=org_id (or the organisation's name)", func(_, value, to string) error {
		out[value] = to
		return nil
	})
	return out, err
}

// eachPair calls fn with each trimmed "value=to" of a comma-separated
// list; the last "=" splits, so a value may hold one.
func eachPair(s, want string, fn func(pair, value, to string) error) error {
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		i := strings.LastIndex(pair, "=")
		if i <= 0 || strings.TrimSpace(pair[i+1:]) == "" {
			return fmt.Errorf("%q: want %s", pair, want)
		}
		if err := fn(pair, strings.TrimSpace(pair[:i]), strings.TrimSpace(pair[i+1:])); err != nil {
			return err
		}
	}
	return nil
}

// ParseRole reads TAGSTREAM_OIDC_DEFAULT_ROLE: a role, or "none" (empty).
func ParseRole(s string) (Role, error) {
	if s == "none" {
		return "", nil
	}
	if r := Role(s); r.valid() {
		return r, nil
	}
	return "", fmt.Errorf("%q: want user, auditor, admin or none", s)
}

// errFederated turns the provider adapter's errors into API errors: a
// refused token is 401 with the reason, an unreachable provider 503.
func errFederated(err error) error {
	var rej *oidc.Rejected
	var un *oidc.Unavailable
	var ex *oidc.ExchangeError
	switch {
	case errors.As(err, &rej):
		return apperr.New(apperr.Unauthorized, "OpenID Connect token rejected: %s", rej.Reason)
	case errors.As(err, &ex):
		return apperr.New(apperr.Unauthorized, "%s", ex.Error())
	case errors.As(err, &un):
		return apperr.New(apperr.Unavailable, "the identity provider cannot be reached; try again shortly")
	}
	return apperr.Wrap(err, "auth: openid connect")
}

// verifyFederated is Verify for a token the provider issued.
func (s *Service) verifyFederated(ctx context.Context, token string, now time.Time) (Claims, error) {
	f := s.cfg.OIDC
	ident, err := f.Provider.Verify(ctx, token)
	if err != nil {
		return Claims{}, errFederated(err)
	}
	u, err := s.federatedUser(ctx, ident)
	if err != nil {
		return Claims{}, err
	}
	issuedMs := ident.IssuedAt.UnixMilli()
	if ident.IssuedAt.IsZero() {
		issuedMs = now.UnixMilli()
	}
	cl := Claims{UserID: u.ID, Email: u.Email, Role: u.Role}
	if s.revoked("", cl.UserID, issuedMs, now) {
		return Claims{}, apperr.New(apperr.Unauthorized, "OpenID Connect token rejected: the account was disabled after this token was issued")
	}
	s.verified.put(token, verifiedEntry{claims: cl, issuedMs: issuedMs, kid: ident.KeyID}, ident.Expiry, now)
	return cl, nil
}

// stillPublished reports whether a cached provider token's key is still in
// the provider's JWKS: a key the provider withdrew (rotated out, perhaps
// because it leaked) must stop vouching for tokens at once, not when they
// expire. Tagstream's own tokens (no kid recorded) always pass.
func (s *Service) stillPublished(ctx context.Context, kid string) bool {
	if kid == "" || s.cfg.OIDC == nil {
		return true
	}
	return s.cfg.OIDC.Provider.HasKey(ctx, kid)
}

// SignInWithCode finishes the console's sign-in: it trades the code for
// the ID token (PKCE verifier and client secret), checks the token and its
// nonce, and opens a session exactly as a password login does.
func (s *Service) SignInWithCode(ctx context.Context, code, verifier, redirectURI, nonce string) (User, Tokens, error) {
	f := s.cfg.OIDC
	if f == nil || !f.Provider.CanSignIn() {
		return User{}, Tokens{}, apperr.New(apperr.NotFound, "single sign-on is not configured")
	}
	idToken, err := f.Provider.Exchange(ctx, code, verifier, redirectURI)
	if err != nil {
		return User{}, Tokens{}, errFederated(err)
	}
	ident, err := f.Provider.VerifyIDToken(ctx, idToken, nonce)
	if err != nil {
		return User{}, Tokens{}, errFederated(err)
	}
	u, err := s.federatedUser(ctx, ident)
	if err != nil {
		return User{}, Tokens{}, err
	}
	limit := f.SessionMax
	if limit <= 0 {
		limit = DefaultSessionMax
	}
	tokens, err := s.startSessionUntil(ctx, u, s.now().Add(limit))
	if err != nil {
		return User{}, Tokens{}, err
	}
	return u, tokens, nil
}

// federatedUser finds or creates the account of (issuer, subject),
// brings its email, name and role up to date with the claims, and then
// its organisation memberships (when the provider manages them).
func (s *Service) federatedUser(ctx context.Context, ident oidc.Identity) (User, error) {
	grant, ok := s.cfg.OIDC.Mapping.Grant(ident.Claims)
	if !ok {
		return User{}, apperr.New(apperr.Forbidden, "your identity provider account has no Tagstream role; ask an administrator to add you to a mapped group")
	}
	u, err := s.federatedAccount(ctx, ident, grant)
	if err != nil || s.cfg.OIDC.Memberships == nil || s.cfg.OIDC.Mapping.OrgClaim == "" {
		return u, err
	}
	if err := s.cfg.OIDC.Memberships.Sync(ctx, u.ID, u.Email, string(u.Role), grant.Orgs); err != nil {
		return User{}, apperr.Wrap(err, "auth: organisation memberships from the provider")
	}
	return u, nil
}

// federatedAccount is the account part of federatedUser.
func (s *Service) federatedAccount(ctx context.Context, ident oidc.Identity, grant Grant) (User, error) {
	email := canonicalEmail(ident.Email)
	if checkEmail(email) != nil || emailUnverified(ident.Claims) {
		// The events name the user by id; a malformed address, or one the
		// provider says it has not confirmed, is dropped, not trusted:
		// organisation memberships added by address would follow it.
		email = ""
	}
	name := strings.TrimSpace(ident.Name)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxFullNameChars {
		name = ""
	}
	key := extKeyOf(ident.Issuer, ident.Subject)
	for range 5 { // revision conflicts: a concurrent first request of the same user
		entry, err := s.users.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			rec := userRecord{ID: userIDPrefix + randomHex(16), Email: email, FullName: name, Role: grant.Role,
				CreatedAt: s.now().UTC().Truncate(time.Second), Issuer: ident.Issuer, Subject: ident.Subject}
			b, _ := json.Marshal(rec)
			if _, err := s.users.Create(ctx, key, b); errors.Is(err, jetstream.ErrKeyExists) {
				continue
			} else if err != nil {
				return User{}, apperr.Wrap(err, "auth: store federated user")
			}
			idx, _ := json.Marshal(idIndexRecord{EmailKey: key})
			if _, err := s.users.Create(ctx, idKeyOf(rec.ID), idx); err != nil {
				// As in register: an account without its index could not be
				// found by id, so undo it and let the next request retry.
				_ = s.users.Purge(context.WithoutCancel(ctx), key)
				return User{}, apperr.Wrap(err, "auth: store federated user index")
			}
			return rec.public(), nil
		case err != nil:
			return User{}, apperr.Wrap(err, "auth: load federated user")
		}
		var rec userRecord
		if err := json.Unmarshal(entry.Value(), &rec); err != nil {
			return User{}, apperr.Wrap(err, "auth: decode federated user")
		}
		if rec.Removed {
			return User{}, apperr.New(apperr.Forbidden, "this account was removed from Tagstream by an administrator")
		}
		if rec.Email == email && rec.FullName == name && rec.Role == grant.Role {
			return rec.public(), nil
		}
		rec.Email, rec.FullName, rec.Role = email, name, grant.Role
		b, _ := json.Marshal(rec)
		if _, err := s.users.Update(ctx, key, b, entry.Revision()); errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		} else if err != nil {
			return User{}, apperr.Wrap(err, "auth: update federated user")
		}
		return rec.public(), nil
	}
	return User{}, apperr.New(apperr.Conflict, "the account is being changed concurrently; retry")
}

// emailUnverified reports a provider's explicit "email_verified": false
// (a boolean, or the string some providers send). A provider that does
// not send the claim at all is trusted with its addresses.
func emailUnverified(claims map[string]any) bool {
	switch v := claims["email_verified"].(type) {
	case bool:
		return !v
	case string:
		return strings.EqualFold(strings.TrimSpace(v), "false")
	}
	return false
}

// extKeyOf keys a federated account by a hash of issuer and subject
// (subjects are unique only per issuer; the NUL cannot occur in either).
func extKeyOf(issuer, subject string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + subject))
	return "ext." + hex.EncodeToString(sum[:])
}
