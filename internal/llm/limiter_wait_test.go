package llm

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

// A first-contact probe whose caller gives up (its document cancelled
// while the provider sat on the request) hands the gate to the next
// caller, who gets its answer: nobody waits on a probe that is gone.
func TestLimiterCancelledProbeReleasesTheGate(t *testing.T) {
	probeIn, stop := make(chan struct{}), make(chan struct{})
	f := newFake(t, func(n int, r llmfake.Request, w http.ResponseWriter) {
		if n == 0 {
			close(probeIn)
			select { // hangs until the client gives up
			case <-r.Done:
			case <-stop:
			}
			return
		}
		llmfake.Answer(w, r, goodTiers)
	})
	t.Cleanup(func() { close(stop) })
	c := New(Config{BaseURL: f.BaseURL(), DocTimeout: time.Minute, MaxConcurrency: 8})

	probeCtx, cancelProbe := context.WithCancel(context.Background())
	probeDone := make(chan error, 1)
	go func() { _, err := c.Tag(probeCtx, baseRequest()); probeDone <- err }()
	<-probeIn
	// The second caller queues behind the probe at the gate.
	second := make(chan error, 1)
	go func() { _, err := c.Tag(context.Background(), baseRequest()); second <- err }()
	lim := c.limiters.get(limiterID(testModel, testKey))
	waitUntil(t, "the second caller queued at the gate", func() bool {
		lim.mu.Lock()
		defer lim.mu.Unlock()
		return len(lim.waiters) == 1
	})
	cancelProbe()
	if err := <-probeDone; err == nil {
		t.Fatal("the cancelled probe reported success")
	}
	select {
	case err := <-second:
		if err != nil {
			t.Fatalf("the caller behind the cancelled probe failed: %v", err)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a timing goal
		t.Fatal("the caller behind the cancelled probe is still waiting")
	}
	if got := lim.current(); got != limiterInitial {
		t.Fatalf("limit after the second caller's answer = %d, want the gate open at %d", got, limiterInitial)
	}
}

// waitUntil polls cond (state another goroutine changes) with a hang guard.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A probe that is still out after firstContactMax (hung, a slow first
// answer) no longer holds the others: the gate opens, queued callers
// included, and the probe's own answer still counts when it comes.
func TestLimiterProbeOutTooLongOpensTheGate(t *testing.T) {
	l, clk := newTestLimiter(32, nil)
	probe := mustAcquire(t, l)
	queued := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		tk, err := l.acquire(ctx, noSleep)
		if err == nil {
			l.release(tk, outcomeSuccess, time.Second, 0)
		}
		queued <- err
	}()
	waitUntil(t, "the second caller queued at the gate", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.waiters) == 1
	})
	clk.Advance(firstContactMax - time.Millisecond)
	if _, err := l.acquire(cancelledCtx(), noSleep); err == nil {
		t.Fatal("the gate opened before firstContactMax")
	}
	clk.Advance(time.Millisecond)
	// The next arrival finds the probe stale and opens the gate for all.
	tk := mustAcquire(t, l)
	if err := <-queued; err != nil {
		t.Fatalf("the queued caller was not admitted when the gate opened: %v", err)
	}
	l.release(tk, outcomeSuccess, time.Second, 0)
	l.release(probe, outcomeSuccess, time.Second, 0)
	if l.firstContact || l.current() < limiterInitial {
		t.Fatalf("firstContact %v, limit %d after the gate opened", l.firstContact, l.current())
	}
}

func cancelledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// hangingShared is a SharedLimits that never answers, as a KV may not
// while JetStream has no leader; it even ignores its context.
type hangingShared struct {
	unblock       chan struct{}
	loads, stores atomic.Int64
	enteredLoad   chan struct{}
	once          sync.Once
}

func (h *hangingShared) Load(context.Context, string) (SharedLimit, bool) {
	h.loads.Add(1)
	h.once.Do(func() { close(h.enteredLoad) })
	<-h.unblock
	return SharedLimit{}, false
}

func (h *hangingShared) Store(context.Context, string, SharedLimit) {
	h.stores.Add(1)
	<-h.unblock
}

// A shared store that never answers holds no call: acquire and release
// return while its load and store are still out (the first acquire waits
// at most sharedFirstWait, once), and no second load or store piles up.
func TestLimiterHangingSharedStoreNeverHoldsACall(t *testing.T) {
	h := &hangingShared{unblock: make(chan struct{}), enteredLoad: make(chan struct{})}
	t.Cleanup(func() { close(h.unblock) })
	l, clk := newTestLimiter(32, h)
	l.limit, l.firstContact = 12, false

	ts := fill(t, l) // the first acquire waits at most sharedFirstWait
	<-h.enteredLoad
	// Rounds of calls over several refresh periods, each ending in two
	// 429s of crowded calls: a decrease, published in the background.
	for round := range 3 {
		before := l.current()
		l.release(ts[len(ts)-1], outcomeLimited, 0, time.Second)
		l.release(ts[len(ts)-2], outcomeLimited, 0, time.Second)
		if got := l.current(); got >= before {
			t.Fatalf("round %d: limit %d after two crowded 429s at %d, want a decrease", round, got, before)
		}
		waitUntil(t, "the store started", func() bool { return h.stores.Load() == 1 })
		for _, tk := range ts[:len(ts)-2] {
			l.release(tk, outcomeSuccess, time.Second, 0)
		}
		clk.Advance(sharedRefresh)
		ts = fill(t, l)
	}
	select {
	case <-h.unblock:
		t.Fatal("unblocked early")
	default:
	}
	if h.loads.Load() != 1 || h.stores.Load() != 1 {
		t.Fatalf("%d loads and %d stores out at once, want one of each", h.loads.Load(), h.stores.Load())
	}
}

// A cooldown from another process is capped, and a limit it published is
// adopted once: when this process has grown past it again, the same
// entry read at the next refresh does not pull it back down.
func TestLimiterAdoptsEachSharedLimitOnce(t *testing.T) {
	shared := NewMemSharedLimits()
	l, clk := newTestLimiter(32, shared)
	l.limit, l.firstContact, l.lastLoad = 16, false, clk.Now()
	shared.Store(context.Background(), "id", SharedLimit{Limit: 4, At: clk.Now(), CooldownUntil: clk.Now().Add(time.Hour)})
	clk.Advance(sharedRefresh)
	var slept time.Duration
	tk, err := l.acquire(context.Background(), func(_ context.Context, d time.Duration) error { slept += d; return nil })
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the shared limit adopted", func() bool { return l.current() == 4 })
	l.release(tk, outcomeOther, 0, 0)
	if slept != maxSharedCooldown {
		t.Fatalf("waited %v for an hour-long shared cooldown, want the cap %v", slept, maxSharedCooldown)
	}
	l.mu.Lock()
	l.limit, l.cooldown = 12, time.Time{} // grown back by probing
	l.mu.Unlock()
	clk.Advance(sharedRefresh)
	tk, err = l.acquire(context.Background(), noSleep)
	if err != nil {
		t.Fatal(err)
	}
	l.release(tk, outcomeOther, 0, 0)
	waitUntil(t, "the refresh ended", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return !l.loading })
	if got := l.current(); got != 12 {
		t.Fatalf("limit = %d after reading the same shared entry again, want 12 kept", got)
	}
}
