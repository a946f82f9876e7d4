package auth

import (
	"context"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/apperr"
)

// TestLogoutRevokesAccessToken: after logout the session's access token is
// refused, cached or not, while another session of the same user works.
func TestLogoutRevokesAccessToken(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	_, tok := f.mustLogin(t, "out@example.com")
	_, other, err := f.svc.Login(ctx, "out@example.com", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(ctx, tok.AccessToken); err != nil { // now cached
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Verify(ctx, tok.AccessToken)
	wantCode(t, err, apperr.Unauthorized)
	if _, err := f.svc.Verify(ctx, other.AccessToken); err != nil {
		t.Fatalf("the other session: %v", err)
	}

	// A restarted process (new Service, same NATS) loads the list.
	again, err := New(ctx, f.js, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.Close)
	_, err = again.Verify(ctx, tok.AccessToken)
	wantCode(t, err, apperr.Unauthorized)
	if _, err := again.Verify(ctx, other.AccessToken); err != nil {
		t.Fatalf("restarted, the other session: %v", err)
	}
}

// TestRefreshedTokenOfRevokedFamily: reuse detection revokes the family,
// which kills its current access token too.
func TestReuseRevokesAccessToken(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	_, tok := f.mustLogin(t, "reuse@example.com")
	next, err := f.svc.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(reuseGrace + time.Second)
	_, err = f.svc.Refresh(ctx, tok.RefreshToken) // stolen copy replayed
	wantCode(t, err, apperr.Unauthorized)
	_, err = f.svc.Verify(ctx, next.AccessToken)
	wantCode(t, err, apperr.Unauthorized)
}

// TestDeleteAndRoleChangeRevoke: deleting an account, or changing its
// role, stops its earlier access tokens; a new login after a role change
// works with the new role.
func TestDeleteAndRoleChangeRevoke(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	gone, goneTok := f.mustLogin(t, "gone@example.com")
	kept, keptTok := f.mustLogin(t, "kept@example.com")
	if _, err := f.svc.Verify(ctx, goneTok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteUser(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Verify(ctx, goneTok.AccessToken)
	wantCode(t, err, apperr.Unauthorized)
	_, err = f.svc.Refresh(ctx, goneTok.RefreshToken)
	wantCode(t, err, apperr.Unauthorized)
	_, _, err = f.svc.Login(ctx, "gone@example.com", "correct horse")
	wantCode(t, err, apperr.Unauthorized)
	wantCode(t, f.svc.DeleteUser(ctx, gone.ID), apperr.NotFound)

	if _, err := f.svc.Verify(ctx, keptTok.AccessToken); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	u, err := f.svc.SetRole(ctx, kept.ID, RoleAuditor)
	if err != nil || u.Role != RoleAuditor {
		t.Fatalf("SetRole = %+v, %v", u, err)
	}
	_, err = f.svc.Verify(ctx, keptTok.AccessToken)
	wantCode(t, err, apperr.Unauthorized)
	f.clock.Advance(time.Millisecond)
	_, fresh, err := f.svc.Login(ctx, "kept@example.com", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.Verify(ctx, fresh.AccessToken)
	if err != nil || c.Role != RoleAuditor {
		t.Fatalf("new token = %+v, %v", c, err)
	}
	_, err = f.svc.SetRole(ctx, kept.ID, Role("root"))
	wantCode(t, err, apperr.Invalid)

	// Once every token it could refuse has expired, the entry goes.
	f.clock.Advance(f.svc.revokeTTL() + time.Second)
	if _, ok := f.svc.revoke.lookup("usr."+kept.ID, f.clock.Now()); ok {
		t.Fatal("revocation outlived the access-token lifetime")
	}
}

// TestRevocationReachesOtherProcesses: a second Service on the same NATS
// (another API process) refuses a token revoked by the first, through the
// KV watch, even though it had already cached the token as valid.
func TestRevocationReachesOtherProcesses(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	other, err := New(ctx, f.js, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	_, tok := f.mustLogin(t, "multi@example.com")
	if _, err := other.Verify(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	// The watch delivers asynchronously: wait for the entry (bounded), then
	// check the answer Verify gives.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := other.Verify(ctx, tok.AccessToken)
		if apperr.Code(err) == apperr.Unauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other process still accepts a logged-out token: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
