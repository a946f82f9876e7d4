package services

import (
	"context"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/memstore"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services/org"
)

// orgRig is an in-memory log with the organisation handler and an empty
// directory, for 10 seconds.
func orgRig(t *testing.T) (context.Context, *memstore.Store, OrgHandler, *OrgDirectory) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	store := memstore.New()
	return ctx, store, NewOrgHandler(store), NewOrgDirectory()
}

// The directory follows the log: a change is visible once WaitFor returns
// for its sequence, concurrent readers included (run with -race).
func TestOrgDirectoryFollowsTheLog(t *testing.T) {
	ctx, store, h, dir := orgRig(t)
	admin := events.User("u-1", "Ana@Example.org")
	res, err := h.Create(ctx, admin, "Records")
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.CatchUp(ctx, store); err != nil {
		t.Fatal(err)
	}
	if got := dir.Roles("u-1", "ana@example.org")[res.OrgID]; got != org.RoleAdmin {
		t.Fatalf("creator's role after catch-up: %q", got)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- dir.Run(runCtx, store) }()
	readers := make(chan struct{})
	go func() {
		defer close(readers)
		for runCtx.Err() == nil {
			_ = dir.Roles("u-2", "bo@example.org")
			_ = dir.Mine("u-1", "ana@example.org")
		}
	}()
	r, err := h.Change(ctx, res.OrgID, org.Command{Action: org.ActionAdd, By: admin, Email: "bo@example.org", Role: org.RoleAuditor})
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.WaitFor(ctx, r.Seq); err != nil {
		t.Fatal(err)
	}
	if got := dir.Roles("u-2", "BO@example.org")[res.OrgID]; got != org.RoleAuditor {
		t.Fatalf("added auditor's role: %q", got)
	}
	if ms := dir.Members(res.OrgID); len(ms) != 2 {
		t.Fatalf("members: %v", ms)
	}
	stop()
	<-readers
	<-done
}

// A membership that names its account belongs to that account, not to
// every account with the address: a password account registered with a
// single sign-on user's address (or after the member's account was
// deleted) got the member's roles, an organisation admin's included.
func TestAMembershipBelongsToItsAccountNotToItsAddress(t *testing.T) {
	ctx, store, h, dir := orgRig(t)
	admin := events.User("u-1", "ana@example.org")
	res, err := h.Create(ctx, admin, "Records")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Change(ctx, res.OrgID, org.Command{Action: org.ActionAdd, By: admin, Email: "bo@example.org", UserID: "u-2", Role: org.RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Change(ctx, res.OrgID, org.Command{Action: org.ActionAdd, By: admin, Email: "new@example.org", Role: org.RoleMember}); err != nil {
		t.Fatal(err)
	}
	if err := dir.CatchUp(ctx, store); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, email, want string
	}{
		{"u-1", "ana@example.org", org.RoleAdmin},
		{"u-9", "ana@example.org", ""}, // the creator's address, another account
		{"u-2", "bo@example.org", org.RoleAuditor},
		{"u-8", "BO@example.org", ""},
		{"u-7", "new@example.org", org.RoleMember}, // added by address before it had an account
	} {
		if got := dir.Roles(c.id, c.email)[res.OrgID]; got != c.want {
			t.Errorf("Roles(%s, %s) = %q, want %q", c.id, c.email, got, c.want)
		}
		if mine := dir.Mine(c.id, c.email); (len(mine) == 1) != (c.want != "") {
			t.Errorf("Mine(%s, %s) = %v", c.id, c.email, mine)
		}
	}
	// Nor may the other account act as the creator: to it the
	// organisation does not exist.
	other := events.User("u-9", "ana@example.org")
	_, err = h.Change(ctx, res.OrgID, org.Command{Action: org.ActionAdd, By: other, Email: "eve@example.org", Role: org.RoleAdmin})
	if apperr.Code(err) != apperr.NotFound {
		t.Fatalf("another account with the admin's address adds a member: %v", err)
	}
	if _, err := h.Change(ctx, res.OrgID, org.Command{Action: org.ActionRemove, By: other, Email: "ana@example.org"}); apperr.Code(err) != apperr.NotFound {
		t.Fatalf("another account with the admin's address removes the admin: %v", err)
	}
}
