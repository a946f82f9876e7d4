package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/oidc"
	"github.com/tagstream/tagstream/internal/oidc/oidctest"
)

func TestClaimMappingPicksTheStrongestMappedRole(t *testing.T) {
	m := ClaimMapping{RoleClaim: "realm_access.roles", Roles: map[string]Role{"ts-audit": RoleAuditor, "ts-admin": RoleAdmin}, DefaultRole: RoleUser}
	cases := []struct {
		claims map[string]any
		want   Role
		ok     bool
	}{
		{map[string]any{"realm_access": map[string]any{"roles": []any{"x", "ts-audit"}}}, RoleAuditor, true},
		{map[string]any{"realm_access": map[string]any{"roles": []any{"ts-admin", "ts-audit"}}}, RoleAdmin, true},
		{map[string]any{"realm_access": map[string]any{"roles": "ts-audit"}}, RoleAuditor, true},
		{map[string]any{"realm_access": map[string]any{"roles": []any{"other"}}}, RoleUser, true},
		{map[string]any{"realm_access": "ts-admin"}, RoleUser, true}, // not an object: nothing maps
		{map[string]any{}, RoleUser, true},
	}
	for _, c := range cases {
		g, ok := m.Grant(c.claims)
		if ok != c.ok || g.Role != c.want {
			t.Errorf("Grant(%v) = %v, %v; want %v, %v", c.claims, g.Role, ok, c.want, c.ok)
		}
	}
	m.DefaultRole = ""
	if _, ok := m.Grant(map[string]any{}); ok {
		t.Error("with default role none, an unmapped user must be refused")
	}
}

func TestParseRoleMapping(t *testing.T) {
	got, err := ParseRoleMapping(" admins=admin , /org/compliance=auditor,,")
	if err != nil || len(got) != 2 || got["admins"] != RoleAdmin || got["/org/compliance"] != RoleAuditor {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"admins", "=admin", "admins=root"} {
		if _, err := ParseRoleMapping(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if r, err := ParseRole("none"); err != nil || r != "" {
		t.Errorf("none = %q, %v", r, err)
	}
	if _, err := ParseRole("owner"); err == nil {
		t.Error("owner accepted")
	}
}

// realClock is the real time plus an offset a test can move.
type realClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *realClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *realClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

type fedFix struct {
	*fixture
	clock *realClock
}

const fedRedirect = "http://127.0.0.1:1/auth/sso/callback"

// fedFixture is a Service trusting a real provider started in the test.
func fedFixture(t *testing.T, def Role) (*fedFix, *oidctest.Provider, *oidc.Provider) {
	t.Helper()
	op := oidctest.Start(t)
	p, err := oidc.Discover(context.Background(), oidc.Config{Issuer: op.Issuer, ClientID: "tagstream", ClientSecret: op.Clients["tagstream"]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	// The provider's tokens carry real times, so the service's clock starts
	// at the real time (revocations compare with their iat).
	ck := &realClock{}
	f := newFixture(t, func(c *Config) {
		c.Now = ck.Now
		c.OIDC = &Federation{Provider: p, Mapping: ClaimMapping{RoleClaim: "groups",
			Roles: map[string]Role{"tagstream-admins": RoleAdmin}, DefaultRole: def}, SessionMax: time.Hour}
	})
	return &fedFix{fixture: f, clock: ck}, op, p
}

// code signs in at the provider and returns what the console's callback
// gets: the code, plus the verifier and nonce it kept.
func code(t *testing.T, op *oidctest.Provider, p *oidc.Provider, user string) (code, verifier, nonce string) {
	t.Helper()
	state, nonce, verifier := oidc.Random(), oidc.Random(), oidc.Random()
	code, _ = op.LoginCode(t, nil, p.AuthCodeURL(fedRedirect, state, nonce, verifier), fedRedirect, user, oidctest.Password)
	return code, verifier, nonce
}

func idToken(t *testing.T, op *oidctest.Provider, p *oidc.Provider, user string) string {
	t.Helper()
	c, v, _ := code(t, op, p, user)
	tok, err := p.Exchange(context.Background(), c, v, fedRedirect)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestProviderTokensMapToOneAccountPerSubjectWithTheirRole(t *testing.T) {
	f, op, p := fedFixture(t, RoleUser)
	ctx := context.Background()
	admin, err := f.svc.Verify(ctx, idToken(t, op, p, oidctest.AdminLogin))
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	if admin.Role != RoleAdmin || admin.Email != oidctest.AdminEmail {
		t.Fatalf("admin claims = %+v", admin)
	}
	again, err := f.svc.Verify(ctx, idToken(t, op, p, oidctest.AdminLogin))
	if err != nil || again.UserID != admin.UserID {
		t.Fatalf("second token of the same subject: %+v, %v (first was %s)", again, err, admin.UserID)
	}
	staffTok := idToken(t, op, p, oidctest.StaffLogin)
	staff, err := f.svc.Verify(ctx, staffTok)
	if err != nil || staff.Role != RoleUser || staff.UserID == admin.UserID {
		t.Fatalf("staff: %+v, %v", staff, err)
	}
	if u, err := f.svc.User(ctx, staff.UserID); err != nil || u.Email != oidctest.StaffEmail {
		t.Fatalf("User(staff) = %+v, %v", u, err)
	}
	// The role follows the provider, so setting it here is refused.
	_, err = f.svc.SetRole(ctx, staff.UserID, RoleAuditor)
	wantCode(t, err, apperr.Conflict)
	// Password accounts keep working beside the provider.
	_, pw := f.mustLogin(t, "local@example.com")
	if _, err := f.svc.Verify(ctx, pw.AccessToken); err != nil {
		t.Fatalf("password account's token: %v", err)
	}
	// Deleting the account revokes the provider's token at once, and the
	// provider's next token does not bring the account back.
	if err := f.svc.DeleteUser(ctx, staff.UserID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Verify(ctx, staffTok)
	wantCode(t, err, apperr.Unauthorized)
	_, err = f.svc.Verify(ctx, idToken(t, op, p, oidctest.StaffLogin))
	wantCode(t, err, apperr.Forbidden)
}

func TestSignInWithCodeOpensAPasswordLikeSession(t *testing.T) {
	f, op, p := fedFixture(t, RoleUser)
	ctx := context.Background()
	c, v, n := code(t, op, p, oidctest.AdminLogin)
	u, tokens, err := f.svc.SignInWithCode(ctx, c, v, fedRedirect, n)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	cl, err := f.svc.Verify(ctx, tokens.AccessToken)
	if err != nil || cl.UserID != u.ID || cl.Role != RoleAdmin {
		t.Fatalf("session token: %+v, %v (user %+v)", cl, err, u)
	}
	next, err := f.svc.Refresh(ctx, tokens.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	// Refreshing keeps the session alive only until SessionMax after the
	// sign-in; then the user must come back through the provider.
	f.clock.Advance(50 * time.Minute)
	if next, err = f.svc.Refresh(ctx, next.RefreshToken); err != nil {
		t.Fatalf("refresh within the hour: %v", err)
	}
	f.clock.Advance(11 * time.Minute)
	_, err = f.svc.Refresh(ctx, next.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
	if !strings.Contains(apperr.Message(err), "sign in again") {
		t.Fatalf("ended session: %v", err)
	}
	f.clock.Advance(-61 * time.Minute)
	// The same code cannot open a second session.
	_, _, err = f.svc.SignInWithCode(ctx, c, v, fedRedirect, n)
	wantCode(t, err, apperr.Unauthorized)
	// A nonce other than the one the sign-in sent is refused.
	c, v, _ = code(t, op, p, oidctest.AdminLogin)
	_, _, err = f.svc.SignInWithCode(ctx, c, v, fedRedirect, "another-nonce")
	wantCode(t, err, apperr.Unauthorized)
}

func TestUnmappedProviderUsersAreRefusedWhenTheDefaultIsNone(t *testing.T) {
	f, op, p := fedFixture(t, "")
	_, err := f.svc.Verify(context.Background(), idToken(t, op, p, oidctest.StaffLogin))
	wantCode(t, err, apperr.Forbidden)
	if cl, err := f.svc.Verify(context.Background(), idToken(t, op, p, oidctest.AdminLogin)); err != nil || cl.Role != RoleAdmin {
		t.Fatalf("mapped admin: %+v, %v", cl, err)
	}
}
