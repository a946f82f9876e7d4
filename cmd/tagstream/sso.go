package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/internal/oidc"
	"github.com/tagstream/tagstream/internal/web"
)

// validateOIDC checks the single sign-on settings without contacting the
// provider; discovery happens when serve opens.
func (c *config) validateOIDC() error {
	if c.OIDCIssuer == "" {
		if c.OIDCClientID != "" || c.OIDCClientSecret != "" {
			return errors.New("TAGSTREAM_OIDC_CLIENT_ID/_SECRET are set but TAGSTREAM_OIDC_ISSUER is empty: set the issuer to enable single sign-on")
		}
		return nil
	}
	if c.OIDCClientID == "" {
		return errors.New("TAGSTREAM_OIDC_ISSUER needs TAGSTREAM_OIDC_CLIENT_ID (the audience of the provider's tokens)")
	}
	if _, err := auth.ParseRoleMapping(c.OIDCRoles); err != nil {
		return fmt.Errorf("TAGSTREAM_OIDC_ROLES: %w", err)
	}
	if _, err := auth.ParseRole(c.OIDCDefaultRole); err != nil {
		return fmt.Errorf("TAGSTREAM_OIDC_DEFAULT_ROLE: %w", err)
	}
	if _, err := auth.ParseOrgMapping(c.OIDCOrgs); err != nil {
		return fmt.Errorf("TAGSTREAM_OIDC_ORGS: %w", err)
	}
	if c.OIDCOrgs != "" && c.OIDCOrgClaim == "" {
		return errors.New("TAGSTREAM_OIDC_ORGS needs TAGSTREAM_OIDC_ORG_CLAIM (the claim whose values it maps)")
	}
	if c.OIDCSessionMax < time.Minute {
		return fmt.Errorf("TAGSTREAM_OIDC_SESSION_MAX must be at least 1m, got %s", c.OIDCSessionMax)
	}
	if c.OIDCRedirectURL != "" {
		if u, err := url.Parse(c.OIDCRedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("TAGSTREAM_OIDC_REDIRECT_URL %q: want an absolute http(s) URL ending in /auth/sso/callback", c.OIDCRedirectURL)
		}
	}
	return nil
}

// openOIDC discovers the provider, or returns nil when SSO is off.
func openOIDC(ctx context.Context, cfg config) (*auth.Federation, error) {
	if cfg.OIDCIssuer == "" {
		return nil, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := oidc.Discover(dctx, oidc.Config{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret})
	if err != nil {
		return nil, fmt.Errorf("TAGSTREAM_OIDC_ISSUER: %w", err)
	}
	roles, _ := auth.ParseRoleMapping(cfg.OIDCRoles) // checked by validate
	def, _ := auth.ParseRole(cfg.OIDCDefaultRole)
	return &auth.Federation{Provider: p, Mapping: auth.ClaimMapping{RoleClaim: cfg.OIDCRoleClaim, Roles: roles, DefaultRole: def,
		OrgClaim: cfg.OIDCOrgClaim}, SessionMax: cfg.OIDCSessionMax}, nil
}

// consoleSSO is the console's sign-in through the provider, or nil when
// there is no provider or no client secret (then the API still accepts
// the provider's tokens, but the console cannot run the code flow).
func consoleSSO(f *auth.Federation, a *auth.Service, cfg config, masterKey []byte) *web.SSO {
	if f == nil || !f.Provider.CanSignIn() {
		return nil
	}
	// The cookie key is derived from the secrets master key, so every API
	// process of a deployment opens the cookies of the others.
	cookieKey := derivedKey(masterKey, "tagstream sso state cookie v1")
	return &web.SSO{
		Begin: f.Provider.AuthCodeURL,
		Finish: func(ctx context.Context, code, verifier, redirectURI, nonce string) (any, error) {
			u, tokens, err := a.SignInWithCode(ctx, code, verifier, redirectURI, nonce)
			if err != nil {
				return nil, err
			}
			return map[string]any{"user": u, "tokens": tokens}, nil
		},
		CookieKey:   cookieKey,
		RedirectURL: cfg.OIDCRedirectURL,
	}
}

// derivedKey is a key for one purpose, derived from the secrets master
// key: every process of a deployment shares the master key, and so each
// derived one, and none of them gives the master key back.
func derivedKey(masterKey []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, masterKey)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}
