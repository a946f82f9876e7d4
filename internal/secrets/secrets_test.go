package secrets

import (
	"context"
	"testing"

	"github.com/tagstream/tagstream/internal/natsx/natstest"
)

func TestClaimKeepsTheFirstCommandsSecret(t *testing.T) {
	ctx := context.Background()
	conn := natstest.Start(t, "")
	s, err := Open(ctx, conn.JS, 1, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	claim := func(secret string) (uint64, bool) {
		t.Helper()
		rev, held, err := s.Claim(ctx, "job.1", secret)
		if err != nil {
			t.Fatal(err)
		}
		return rev, held
	}
	stored := func(want string) {
		t.Helper()
		if got, err := s.Get(ctx, "job.1"); err != nil || got != want {
			t.Fatalf("stored %q, %v; want %q", got, err, want)
		}
	}
	revA, held := claim("key-a")
	if !held || revA == 0 {
		t.Fatalf("first claim: rev %d held %v", revA, held)
	}
	if _, held := claim("key-b"); held {
		t.Fatal("a second command with another key took the slot")
	}
	stored("key-a")
	if rev, held := claim("key-a"); !held || rev != 0 {
		t.Fatalf("the same key again: rev %d held %v; want a shared slot (rev 0)", rev, held)
	}
	// A shared claim's release leaves the slot alone; the creator's frees it.
	if err := s.Release(ctx, "job.1", 0); err != nil {
		t.Fatal(err)
	}
	stored("key-a")
	if err := s.Release(ctx, "job.1", revA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "job.1"); err != ErrNotFound {
		t.Fatalf("after release: %v", err)
	}
	revB, held := claim("key-b")
	if !held {
		t.Fatal("a freed slot was not claimed")
	}
	// A release with an old revision does not free a slot taken since.
	if err := s.Release(ctx, "job.1", revA); err != nil {
		t.Fatal(err)
	}
	stored("key-b")
	// A secret left by a command that died before its event is taken over
	// once it is older than StaleClaim.
	s.StaleClaim = 0
	if rev, held := claim("key-c"); !held || rev <= revB {
		t.Fatalf("stale slot: rev %d held %v", rev, held)
	}
	stored("key-c")
}
