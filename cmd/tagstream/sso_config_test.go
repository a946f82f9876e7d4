package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestSSOSettingsAreCheckedBeforeServing(t *testing.T) {
	base := func() config {
		c := testConfig(t)
		c.Registration, c.OIDCDefaultRole, c.OIDCSessionMax = "open", "user", 12*time.Hour
		return c
	}
	if cfg := base(); cfg.validate() != nil {
		err := cfg.validate()
		t.Fatalf("without an issuer SSO is simply off: %v", err)
	}
	for name, c := range map[string]struct {
		mutate func(*config)
		says   string
	}{
		"client id without issuer": {func(c *config) { c.OIDCClientID = "x" }, "TAGSTREAM_OIDC_ISSUER is empty"},
		"issuer without client id": {func(c *config) { c.OIDCIssuer = "https://idp.example" }, "needs TAGSTREAM_OIDC_CLIENT_ID"},
		"bad mapping":              {func(c *config) { c.OIDCIssuer, c.OIDCClientID, c.OIDCRoles = "https://idp.example", "x", "admins=root" }, "TAGSTREAM_OIDC_ROLES"},
		"bad default role":         {func(c *config) { c.OIDCIssuer, c.OIDCClientID, c.OIDCDefaultRole = "https://idp.example", "x", "owner" }, "TAGSTREAM_OIDC_DEFAULT_ROLE"},
		"session max too short": {func(c *config) {
			c.OIDCIssuer, c.OIDCClientID, c.OIDCSessionMax = "https://idp.example", "x", time.Second
		}, "TAGSTREAM_OIDC_SESSION_MAX"},
		"bad org mapping": {func(c *config) {
			c.OIDCIssuer, c.OIDCClientID, c.OIDCOrgClaim, c.OIDCOrgs = "https://idp.example", "x", "orgs", "finance"
		}, "TAGSTREAM_OIDC_ORGS"},
		"org mapping without claim": {func(c *config) {
			c.OIDCIssuer, c.OIDCClientID, c.OIDCOrgs = "https://idp.example", "x", "finance=org_1"
		}, "needs TAGSTREAM_OIDC_ORG_CLAIM"},
		"bad redirect": {func(c *config) {
			c.OIDCIssuer, c.OIDCClientID, c.OIDCRedirectURL = "https://idp.example", "x", "/relative"
		}, "TAGSTREAM_OIDC_REDIRECT_URL"},
	} {
		cfg := base()
		c.mutate(&cfg)
		if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v; want an error naming %q", name, err, c.says)
		}
	}
	// A provider that cannot be reached stops serve with the variable's name.
	cfg := base()
	cfg.OIDCIssuer, cfg.OIDCClientID, cfg.OIDCClientSecret = "http://127.0.0.1:1", "x", "cs-Pw3Nx8Qe1Ld6Zr4Ty9"
	_, err := openOIDC(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "TAGSTREAM_OIDC_ISSUER") || strings.Contains(err.Error(), cfg.OIDCClientSecret) {
		t.Fatalf("unreachable provider: %v", err)
	}
}
