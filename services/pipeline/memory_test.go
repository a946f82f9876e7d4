package pipeline

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// queued waits until n requests wait for the budget.
func queued(t *testing.T, b *MemoryBudget, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		l := b.waiters.Len()
		b.mu.Unlock()
		if l == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiting, want %d", l, n)
		}
		runtime.Gosched()
	}
}

func acquireAsync(b *MemoryBudget, ctx context.Context, n int64) chan func() {
	got := make(chan func(), 1)
	go func() {
		release, err := b.Acquire(ctx, n)
		if err != nil {
			close(got)
			return
		}
		got <- release
	}()
	return got
}

func TestMemoryBudgetAdmitsByBytesInArrivalOrder(t *testing.T) {
	ctx := context.Background()
	b := NewMemoryBudget(100)
	r1, err := b.Acquire(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	big := acquireAsync(b, ctx, 50) // does not fit beside 60
	queued(t, b, 1)
	// 10 bytes would fit, but the 50 came first: no overtaking, so a
	// large document is not starved by small ones.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Acquire(done, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("a small request overtook a waiting one: %v", err)
	}
	if b.InUse() != 60 {
		t.Fatalf("in use %d, want 60", b.InUse())
	}
	r1()
	r1() // twice is harmless
	r2 := <-big
	if r2 == nil || b.InUse() != 50 {
		t.Fatalf("after the release: granted=%v in use %d, want 50", r2 != nil, b.InUse())
	}
	r2()
	// More than the whole budget runs alone instead of never.
	r3, err := b.Acquire(ctx, 1<<40)
	if err != nil || b.InUse() != 100 {
		t.Fatalf("oversized request: %v, in use %d", err, b.InUse())
	}
	r3()
	if b.InUse() != 0 {
		t.Fatalf("in use %d after every release", b.InUse())
	}
}

func TestMemoryBudgetWaiterThatGivesUpLetsTheNextIn(t *testing.T) {
	ctx := context.Background()
	b := NewMemoryBudget(100)
	r1, _ := b.Acquire(ctx, 50)
	stop, cancel := context.WithCancel(ctx)
	big := acquireAsync(b, stop, 80)
	queued(t, b, 1)
	small := acquireAsync(b, ctx, 10)
	queued(t, b, 2)
	cancel() // the 80 gives up (its document was paused, say)
	if r := <-big; r != nil {
		t.Fatal("a cancelled request was granted")
	}
	r2 := <-small
	if r2 == nil || b.InUse() != 60 {
		t.Fatalf("the waiter behind a cancelled one: granted=%v in use %d", r2 != nil, b.InUse())
	}
	r1()
	r2()
}

func TestPipelineReservesTheEstimateAroundExtraction(t *testing.T) {
	if got := DefaultEstimate.Estimate(make([]byte, 10<<20)); got != 40<<20 {
		t.Fatalf("10 MiB file estimated at %d", got)
	}
	if got := DefaultEstimate.Estimate(nil); got != 4<<20 {
		t.Fatalf("empty file estimated at %d, want the floor", got)
	}
	p := &Pipeline{}
	if release, err := p.reserveMemory(context.Background(), make([]byte, 1<<30)); err != nil {
		t.Fatal("no budget set: nothing should be reserved", err)
	} else {
		release()
	}
	b := NewMemoryBudget(64 << 20)
	p.LimitExtractionMemory(b, nil)
	release, err := p.reserveMemory(context.Background(), make([]byte, 10<<20))
	if err != nil || b.InUse() != 40<<20 {
		t.Fatalf("reserved %d (%v), want 40 MiB", b.InUse(), err)
	}
	// A second such document must wait: 80 MiB exceed the 64 MiB budget.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := p.reserveMemory(ctx, make([]byte, 10<<20)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second document was let in beside the first: %v", err)
	}
	release()
	if b.InUse() != 0 {
		t.Fatalf("in use %d after the extraction", b.InUse())
	}
}
