package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/apperr"
)

func TestRefreshRotates(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	u, t1 := f.mustLogin(t, "frank@example.com")

	f.clock.Advance(time.Minute)
	t2, err := f.svc.Refresh(ctx, t1.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if t2.RefreshToken == t1.RefreshToken || t2.AccessToken == t1.AccessToken || !strings.HasPrefix(t2.RefreshToken, "rt_") {
		t.Fatalf("tokens not rotated")
	}
	if t2.TokenType != "bearer" || t2.ExpiresIn != 900 {
		t.Fatalf("unexpected pair %+v", t2)
	}
	c, err := f.svc.Verify(ctx, t2.AccessToken)
	if err != nil || c.UserID != u.ID || c.Email != u.Email || c.Role != u.Role {
		t.Fatalf("new access token: %+v %v", c, err)
	}

	// The old refresh token is spent.
	_, err = f.svc.Refresh(ctx, t1.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
	if strings.Contains(err.Error(), t1.RefreshToken) {
		t.Fatal("error echoes the refresh token")
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	_, t1 := f.mustLogin(t, "grace@example.com")
	_, other, err := f.svc.Login(ctx, "grace@example.com", "correct horse") // a second, independent session
	if err != nil {
		t.Fatal(err)
	}
	t2, err := f.svc.Refresh(ctx, t1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// Within the grace period a replay is refused but revokes nothing: it
	// looks like the client's own double submit.
	_, err = f.svc.Refresh(ctx, t1.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
	if _, err := f.svc.Verify(ctx, t2.AccessToken); err != nil {
		t.Fatal(err)
	}
	t2, err = f.svc.Refresh(ctx, t2.RefreshToken)
	if err != nil {
		t.Fatalf("successor revoked by a replay inside the grace period: %v", err)
	}
	// Later, someone replays a spent token: refused, and the legitimate
	// successor dies with it because we cannot tell who the thief is.
	f.clock.Advance(reuseGrace)
	_, err = f.svc.Refresh(ctx, t1.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
	_, err = f.svc.Refresh(ctx, t2.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
	// Other sessions of the same user are untouched.
	if _, err := f.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Fatalf("independent session revoked: %v", err)
	}
}

func TestRefreshConcurrentUseOneWins(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	_, tok := f.mustLogin(t, "heidi@example.com")
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	pairs := make([]Tokens, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			pairs[i], errs[i] = f.svc.Refresh(ctx, tok.RefreshToken)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch apperr.Code(err) {
		case "":
			wins++
		case apperr.Unauthorized:
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent refreshes succeeded, want exactly 1", wins)
	}
	// The winner's new session is alive: the losers did not revoke it.
	for i, err := range errs {
		if err == nil {
			if _, err := f.svc.Refresh(ctx, pairs[i].RefreshToken); err != nil {
				t.Fatalf("winner's new refresh token revoked by the losers: %v", err)
			}
		}
	}
}

func TestRefreshExpiryIsSliding(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RefreshTTL = 10 * 24 * time.Hour })
	ctx := context.Background()
	_, t1 := f.mustLogin(t, "ivan@example.com")

	f.clock.Advance(9 * 24 * time.Hour)
	t2, err := f.svc.Refresh(ctx, t1.RefreshToken)
	if err != nil {
		t.Fatalf("refresh before expiry: %v", err)
	}
	// Nine more days: past the first token's lifetime, within the second's.
	f.clock.Advance(9 * 24 * time.Hour)
	t3, err := f.svc.Refresh(ctx, t2.RefreshToken)
	if err != nil {
		t.Fatalf("rotated token should live RefreshTTL from its issue: %v", err)
	}
	f.clock.Advance(10*24*time.Hour + time.Second)
	_, err = f.svc.Refresh(ctx, t3.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
}

func TestLogout(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	_, t1 := f.mustLogin(t, "judy@example.com")
	t2, err := f.svc.Refresh(ctx, t1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, t2.RefreshToken); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	_, err = f.svc.Refresh(ctx, t2.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
	// Logging out twice, or with an unknown but well-formed token, is fine.
	if err := f.svc.Logout(ctx, t2.RefreshToken); err != nil {
		t.Fatalf("second Logout: %v", err)
	}
	if err := f.svc.Logout(ctx, "rt_"+randomString(32)); err != nil {
		t.Fatalf("Logout(unknown): %v", err)
	}
	// Logging out with the spent predecessor ends the session too.
	_, t3 := f.mustLoginAgain(t, "judy@example.com")
	t4, err := f.svc.Refresh(ctx, t3.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, t3.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Refresh(ctx, t4.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
}

func (f *fixture) mustLoginAgain(t *testing.T, email string) (User, Tokens) {
	t.Helper()
	u, tok, err := f.svc.Login(context.Background(), email, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	return u, tok
}

func TestRefreshRejectsWrongTokens(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	_, tok := f.mustLogin(t, "ken@example.com")
	bad := map[string]string{
		"access token":          tok.AccessToken,
		"empty":                 "",
		"garbage":               "garbage",
		"no prefix":             strings.TrimPrefix(tok.RefreshToken, "rt_"),
		"wrong prefix":          "at_" + strings.TrimPrefix(tok.RefreshToken, "rt_"),
		"truncated":             tok.RefreshToken[:len(tok.RefreshToken)-1],
		"extended":              tok.RefreshToken + "A",
		"kv wildcard":           "rt_" + strings.Repeat(">", 43),
		"well-formed unknown":   "rt_" + randomString(32),
		"bearer prefix left in": "Bearer " + tok.RefreshToken,
	}
	for name, rt := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.Refresh(ctx, rt)
			wantCode(t, err, apperr.Unauthorized)
		})
	}
	err := f.svc.Logout(ctx, tok.AccessToken)
	wantCode(t, err, apperr.Unauthorized)
	// None of the rejections consumed the real token.
	if _, err := f.svc.Refresh(ctx, tok.RefreshToken); err != nil {
		t.Fatalf("real token: %v", err)
	}
}

func TestRefreshAfterUserRemoved(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	u, tok := f.mustLogin(t, "leo@example.com")
	if err := f.svc.users.Delete(ctx, idKeyOf(u.ID)); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Refresh(ctx, tok.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
}

func TestRefreshStoredOnlyHashed(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RefreshTTL = 48 * time.Hour })
	ctx := context.Background()
	_, tok := f.mustLogin(t, "mia@example.com")
	secret := strings.TrimPrefix(tok.RefreshToken, "rt_")

	lister, err := f.svc.refresh.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range lister.Keys() {
		n++
		if strings.Contains(k, secret) {
			t.Fatalf("key %q contains the token", k)
		}
		e, err := f.svc.refresh.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(e.Value()), secret) {
			t.Fatalf("value of %q contains the token", k)
		}
	}
	if n != 2 { // one token, one family
		t.Fatalf("%d keys, want 2", n)
	}
	st, err := f.svc.refresh.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != 48*time.Hour {
		t.Fatalf("bucket TTL %v, want RefreshTTL", st.TTL())
	}

	// Likewise the users bucket holds a bcrypt hash, never the password.
	ul, err := f.svc.users.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range ul.Keys() {
		if strings.Contains(k, "mia") {
			t.Fatalf("users key %q exposes the address", k)
		}
		e, _ := f.svc.users.Get(ctx, k)
		if strings.Contains(string(e.Value()), "correct horse") {
			t.Fatalf("users value %q holds the password", k)
		}
	}
}
