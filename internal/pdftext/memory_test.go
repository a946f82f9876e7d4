package pdftext

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

func TestMemoryEstimate(t *testing.T) {
	if got := MemoryEstimate(DefaultMaxBytes); got != DocumentMemoryBudget {
		t.Errorf("estimate for the largest file %d, budget %d", got, DocumentMemoryBudget)
	}
	if small, big := MemoryEstimate(10<<10), MemoryEstimate(10<<20); small >= big || small < workingSet {
		t.Errorf("estimates: 10 KB %d, 10 MB %d", small, big)
	}
	if MemoryEstimate(1<<40) != DocumentMemoryBudget {
		t.Errorf("estimate not capped")
	}
}

func TestMemoryGate(t *testing.T) {
	g := NewMemoryGate(100)
	ctx := context.Background()
	r60, err := g.Acquire(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	// 50 does not fit next to 60: it waits, and a later small request
	// waits behind it rather than overtaking.
	got50 := make(chan func())
	go func() {
		r, err := g.Acquire(ctx, 50)
		if err != nil {
			t.Error(err)
		}
		got50 <- r
	}()
	for g.waiting() == 0 {
		waitYield()
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.Acquire(cctx, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("small request overtook a waiter or ignored ctx: %v", err)
	}
	r60()
	r60() // releasing twice is harmless
	r50 := <-got50
	if g.InUse() != 50 {
		t.Fatalf("in use %d after 60 released and 50 granted", g.InUse())
	}
	// Larger than the gate: clamped, runs alone.
	r50()
	rBig, err := g.Acquire(ctx, 1000)
	if err != nil || g.InUse() != 100 {
		t.Fatalf("oversized request: %v, in use %d", err, g.InUse())
	}
	rBig()
	if g.InUse() != 0 {
		t.Fatalf("in use %d at the end", g.InUse())
	}
}

func (g *MemoryGate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiters)
}

// waitYield lets the goroutine under test run while we poll its state.
func waitYield() { runtime.Gosched() }
