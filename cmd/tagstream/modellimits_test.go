package main

import (
	"context"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/natsx"
)

// Two processes' view of the bucket: what one stores on a decrease the
// other loads, through a real embedded JetStream.
func TestModelLimitsSharedThroughKV(t *testing.T) {
	ctx := context.Background()
	c, err := natsx.Connect(ctx, natsx.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	a, err := openModelLimits(ctx, c.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openModelLimits(ctx, c.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Load(ctx, "abc123"); ok {
		t.Fatal("an entry before anyone stored one")
	}
	until := time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC)
	a.Store(ctx, "abc123", llm.SharedLimit{Limit: 10, CooldownUntil: until})
	got, ok := b.Load(ctx, "abc123")
	if !ok || got.Limit != 10 || !got.CooldownUntil.Equal(until) {
		t.Fatalf("loaded %+v %v, want limit 10 and the cooldown", got, ok)
	}
}
