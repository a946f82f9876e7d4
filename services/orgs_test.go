package services

import (
	"context"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/memstore"
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
	if got := dir.Roles("ana@example.org")[res.OrgID]; got != org.RoleAdmin {
		t.Fatalf("creator's role after catch-up: %q", got)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- dir.Run(runCtx, store) }()
	readers := make(chan struct{})
	go func() {
		defer close(readers)
		for runCtx.Err() == nil {
			_ = dir.Roles("bo@example.org")
			_ = dir.Mine("ana@example.org")
		}
	}()
	r, err := h.Change(ctx, res.OrgID, org.Command{Action: org.ActionAdd, By: admin, Email: "bo@example.org", Role: org.RoleAuditor})
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.WaitFor(ctx, r.Seq); err != nil {
		t.Fatal(err)
	}
	if got := dir.Roles("BO@example.org")[res.OrgID]; got != org.RoleAuditor {
		t.Fatalf("added auditor's role: %q", got)
	}
	if ms := dir.Members(res.OrgID); len(ms) != 2 {
		t.Fatalf("members: %v", ms)
	}
	stop()
	<-readers
	<-done
}
