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
	claim := func(secret string) bool {
		t.Helper()
		held, err := s.Claim(ctx, "job.1", secret)
		if err != nil {
			t.Fatal(err)
		}
		return held
	}
	stored := func(want string) {
		t.Helper()
		if got, err := s.Get(ctx, "job.1"); err != nil || got != want {
			t.Fatalf("stored %q, %v; want %q", got, err, want)
		}
	}
	if !claim("key-a") {
		t.Fatal("the first claim was refused")
	}
	if claim("key-b") {
		t.Fatal("a second command with another key took the slot")
	}
	stored("key-a")
	if !claim("key-a") {
		t.Fatal("the same key again (an identical request) was refused")
	}
	// A slot freed when its job ended is claimed anew.
	if err := s.Delete(ctx, "job.1"); err != nil {
		t.Fatal(err)
	}
	if !claim("key-b") {
		t.Fatal("a freed slot was not claimed")
	}
	stored("key-b")
	// A secret left by a command that died before its event is taken over
	// once it is older than StaleClaim.
	s.StaleClaim = 0
	if !claim("key-c") {
		t.Fatal("a stale slot was not taken over")
	}
	stored("key-c")
}
