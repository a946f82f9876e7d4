package llm

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/testenv"
)

func newTestLimiter(max int, shared SharedLimits) (*limiter, *testenv.Clock) {
	clk := testenv.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return newLimiter(max, clk.Now, "id", shared), clk
}

// mustAcquire takes a slot that must be free now.
func mustAcquire(t *testing.T, l *limiter) *ticket {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a free slot is granted without waiting; a full one fails
	tk, err := l.acquire(ctx, noSleep)
	if err != nil {
		t.Fatalf("no free slot (limit %d, in flight %d)", l.current(), l.inFlight())
	}
	return tk
}

func TestLimiterFirstCallGoesAloneThenOpens(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	if l.current() != 1 {
		t.Fatalf("limit before any answer = %d, want 1", l.current())
	}
	tk := mustAcquire(t, l)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.acquire(ctx, noSleep); err == nil {
		t.Fatal("second call admitted before the first answer")
	}
	l.release(tk, outcomeSuccess, 200*time.Millisecond, 0)
	if got := l.current(); got != limiterInitial {
		t.Fatalf("limit after the first answer = %d, want %d", got, limiterInitial)
	}
}

// fill admits calls up to the limit and returns their tickets.
func fill(t *testing.T, l *limiter) []*ticket {
	t.Helper()
	var ts []*ticket
	for l.inFlight() < l.current() {
		ts = append(ts, mustAcquire(t, l))
	}
	return ts
}

func TestLimiterSlowStartDoublesPerRoundTrip(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	l.release(mustAcquire(t, l), outcomeSuccess, time.Second, 0)
	for _, want := range []int{16, 32, 32} {
		for _, tk := range fill(t, l) {
			l.release(tk, outcomeSuccess, time.Second, 0)
		}
		if got := l.current(); got != want {
			t.Fatalf("limit = %d, want %d", got, want)
		}
	}
}

func TestLimiterNeverAboveWorkers(t *testing.T) {
	l, _ := newTestLimiter(5, nil)
	for range 10 {
		for _, tk := range fill(t, l) {
			l.release(tk, outcomeSuccess, time.Second, 0)
		}
	}
	if got := l.current(); got != 5 {
		t.Fatalf("limit = %d, want the process maximum 5", got)
	}
}

func TestLimiterDecreasesToWhatTheProviderAccepted(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	l.limit, l.firstContact = 16, false
	ts := fill(t, l)
	// A provider capped at 10: calls sent with 10 or more others in flight
	// are refused, and the refusals come back first.
	for _, tk := range ts[10:] {
		l.release(tk, outcomeLimited, 0, 0)
	}
	if got := l.current(); got != 10 {
		t.Fatalf("limit after the burst of 429s = %d, want 10 (decrease once per round trip)", got)
	}
	for _, tk := range ts[:10] {
		l.release(tk, outcomeSuccess, time.Second, 0)
	}
	if l.slowStart || l.ceiling != 10 {
		t.Fatalf("slowStart=%v ceiling=%d, want false and 10", l.slowStart, l.ceiling)
	}
}

func TestLimiterProbesAboveCeilingRarely(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	l.limit, l.firstContact, l.slowStart, l.ceiling = 10, false, false, 10
	successes := 0
	for l.current() == 10 {
		for _, tk := range fill(t, l) {
			l.release(tk, outcomeSuccess, time.Second, 0)
			successes++
		}
		if successes > 1000 {
			t.Fatal("never probed above the ceiling")
		}
	}
	if successes < limiterProbeMin {
		t.Fatalf("probed after %d successes, want at least %d (one 429 per probe)", successes, limiterProbeMin)
	}
}

func TestLimiterStopsGrowingWhenAnswersSlowDown(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	l.limit, l.firstContact = 8, false
	for _, tk := range fill(t, l) {
		l.release(tk, outcomeSuccess, 100*time.Millisecond, 0)
	}
	grown := l.current()
	for range 5 {
		for _, tk := range fill(t, l) {
			l.release(tk, outcomeSuccess, time.Second, 0)
		}
	}
	if got := l.current(); got > grown+2 {
		t.Fatalf("limit grew from %d to %d while latency was 10x the best", grown, got)
	}
}

func TestLimiterSharesDecreaseAndCooldown(t *testing.T) {
	shared := NewMemSharedLimits()
	a, clk := newTestLimiter(32, shared)
	// 12 at once have worked: a lone 429 there is only noted, and the
	// second of crowded calls decreases.
	a.limit, a.firstContact, a.okSentWith = 12, false, 12
	ts := fill(t, a)
	a.release(ts[11], outcomeLimited, 0, 3*time.Second)
	if _, ok := shared.Load(context.Background(), "id"); ok {
		t.Fatal("a lone 429 was published")
	}
	a.release(ts[10], outcomeLimited, 0, 3*time.Second)
	var s SharedLimit
	ok := false
	waitUntil(t, "the decrease published", func() bool { s, ok = shared.Load(context.Background(), "id"); return ok })
	if !ok || s.Limit != 10 || !s.CooldownUntil.Equal(clk.Now().Add(3*time.Second)) {
		t.Fatalf("shared = %+v %v, want limit 10 and cooldown in 3s", s, ok)
	}

	// Another process with the same model and key adopts it before
	// ramping up, and waits out the cooldown.
	b := newLimiter(32, clk.Now, "id", shared)
	var slept time.Duration
	tk, err := b.acquire(context.Background(), func(_ context.Context, d time.Duration) error { slept += d; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if slept != 3*time.Second {
		t.Fatalf("waited %s for the shared cooldown, want 3s", slept)
	}
	b.release(tk, outcomeSuccess, time.Second, 0)
	if got := b.current(); got > 10 {
		t.Fatalf("second process limit = %d, want at most the shared 10", got)
	}
}

func TestLimiterCancelledWaiterGivesNothingAway(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	tk := mustAcquire(t, l)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := l.acquire(ctx, noSleep); done <- err }()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled waiter got a slot")
	}
	l.release(tk, outcomeOther, 0, 0)
	if l.inFlight() != 0 {
		t.Fatalf("in flight = %d after all left, want 0", l.inFlight())
	}
}

func TestBudgetFromHeaders(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", "300")
	h.Set("x-ratelimit-remaining-requests", "0")
	h.Set("x-ratelimit-reset-requests", "1m0s")
	rh := parseRateHeaders(h, now)
	credit, iv, ok := budget(rh, 3, 0)
	// 300 a minute at 95%: one call every 210.5 ms.
	if !ok || credit != 0 || iv < 210*time.Millisecond || iv > 211*time.Millisecond {
		t.Fatalf("budget = %v %v %v, want 0 credit and ~210ms", credit, iv, ok)
	}
	if rh.hasRoom() {
		t.Fatal("an empty bucket has room")
	}

	h.Set("x-ratelimit-remaining-requests", "250")
	h.Set("x-ratelimit-reset-requests", "10s")
	h.Set("x-ratelimit-limit-tokens", "10000")
	h.Set("x-ratelimit-remaining-tokens", "1000")
	h.Set("x-ratelimit-reset-tokens", "9s")
	credit, iv, _ = budget(parseRateHeaders(h, now), 3, 100)
	// Tokens are the tighter: 10 calls left minus 3 in flight minus 1.
	if credit != 6 {
		t.Fatalf("credit = %v, want 6 (tokens bucket)", credit)
	}
	// Tokens refill 10 calls/s, requests 5/s: the slower one spaces the
	// calls, 5/s at 95% = 210.5 ms.
	if iv < 210*time.Millisecond || iv > 211*time.Millisecond {
		t.Fatalf("interval = %v, want ~210ms", iv)
	}
	if !parseRateHeaders(h, now).hasRoom() {
		t.Fatal("buckets with room reported full")
	}
	if _, _, ok := budget(parseRateHeaders(http.Header{}, now), 0, 0); ok {
		t.Fatal("a budget from no headers")
	}
}

func TestParseReset(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for in, want := range map[string]time.Duration{
		"6m0s": 6 * time.Minute, "20ms": 20 * time.Millisecond, "1.5": 1500 * time.Millisecond,
		"1700000030": 30 * time.Second, "1700000002000": 2 * time.Second, "": 0, "soon": 0, "-3": 0,
	} {
		if got := parseReset(in, now); got != want {
			t.Errorf("parseReset(%q) = %v, want %v", in, got, want)
		}
	}
}

// Against a provider that allows 10 calls at once, 32 callers end up with
// a limit near 10 and few 429s, where a fixed pool of 32
// would have most of its calls refused.
func TestTagLearnsTheProvidersConcurrencyCap(t *testing.T) {
	p := llmfake.New(t, llmfake.Options{Usage: testUsage, Latency: 50 * time.Millisecond, Limits: &llmfake.Limits{Concurrency: 10, ReqPerSec: 1000, ReqBurst: 10000}})
	c := New(Config{BaseURL: p.BaseURL(), DocTimeout: time.Minute, MaxConcurrency: 32})
	if failed := runAgainst(t, c, 200, 32); failed > 0 {
		t.Fatalf("%d documents failed", failed)
	}
	st := p.Stats()
	calls, ok, limited := st.Calls, st.OK, st.Limited
	if ok != 200 || limited*100 > calls*15 {
		t.Fatalf("%d calls, %d answered, %d refused (429): want 200 answered and at most 15%% refused", calls, ok, limited)
	}
	// The learned limit itself is only bounded loosely: under -race on a
	// busy machine the client releases slots late, so it may sit a few
	// above 10 without the provider refusing more.
	for _, l := range c.limiters.m {
		if got := l.current(); got < 5 || got >= 24 {
			t.Fatalf("learned limit %d, want 5..23", got)
		}
	}
}

// A tokens bucket announced in headers paces the calls so that the bucket
// is never overdrawn after the first answer.
func TestTagPacesToTheTokensBucket(t *testing.T) {
	p := llmfake.New(t, llmfake.Options{Usage: testUsage, Latency: 10 * time.Millisecond, Limits: &llmfake.Limits{TokPerSec: 300, TokBurst: 60}})
	c := New(Config{BaseURL: p.BaseURL(), DocTimeout: time.Minute, MaxConcurrency: 32})
	if failed := runAgainst(t, c, 40, 16); failed > 0 {
		t.Fatalf("%d documents failed", failed)
	}
	st := p.Stats()
	calls, ok, limited := st.Calls, st.OK, st.Limited
	if ok != 40 || limited > 4 {
		t.Fatalf("%d calls, %d answered, %d refused: want 40 answered and at most 4 refused", calls, ok, limited)
	}
}

// 429s that a call sent with fewer others in flight than a successful one
// received are not about concurrency: the limit stays.
func TestLimiterIgnores429sUnrelatedToConcurrency(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	l.limit, l.firstContact, l.slowStart, l.ceiling = 16, false, false, 16
	ts := fill(t, l)
	l.release(ts[15], outcomeSuccess, time.Second, 0)
	for _, tk := range ts[3:9] {
		l.release(tk, outcomeLimited, 0, time.Second)
	}
	if got := l.current(); got != 16 {
		t.Fatalf("limit = %d after 429s below a success's concurrency, want 16", got)
	}
}

// The first 429 of a call sent with few others in flight is noted only
// (lone: that call retries alone, the job is not paced); a second before
// a call as crowded succeeds is not. Treated as not lone from the first,
// one sporadic 429 that fell on a quiet moment paced a whole job to one
// call at a time (TestRateLimitSporadic429sKeepConcurrency, flaky).
func TestLimiterNotesALone429BelowTheWorkingLevel(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	l.limit, l.firstContact, l.slowStart, l.ceiling = 16, false, false, 16
	ts := fill(t, l)
	l.release(ts[15], outcomeSuccess, time.Second, 0)
	if !l.release(ts[3], outcomeLimited, 0, 0) {
		t.Fatal("the first 429 below the working level was not taken for lone")
	}
	if l.release(ts[4], outcomeLimited, 0, 0) {
		t.Fatal("a second 429 before any success was taken for lone too")
	}
	if got := l.current(); got != 16 {
		t.Fatalf("limit = %d, want 16: 429s below a success's concurrency do not lower it", got)
	}
}

// A call refused while alone says nothing about concurrency: the first
// contact stays open for the next answer, and no ceiling of 1 is learned.
func TestLimiterIgnores429WhileAlone(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	l.release(mustAcquire(t, l), outcomeLimited, 0, time.Second)
	if l.ceiling != 0 || !l.firstContact {
		t.Fatalf("ceiling %d, firstContact %v after a lone 429; want 0 and true", l.ceiling, l.firstContact)
	}
	l.release(mustAcquire(t, l), outcomeSuccess, time.Second, 0)
	if got := l.current(); got != limiterInitial {
		t.Fatalf("limit = %d, want %d", got, limiterInitial)
	}
}

// A 429 at a level that has worked is only noted (the caller alone waits);
// calls sent after it that get through clear it, so the next lone 429 is
// noted again instead of lowering the limit. A second one before that
// lowers it to what the provider accepted.
func TestLimiterLone429IsOnlyNoted(t *testing.T) {
	l, _ := newTestLimiter(32, nil)
	l.limit, l.firstContact, l.slowStart, l.okSentWith = 16, false, false, 16
	ts := fill(t, l)
	if lone := l.release(ts[15], outcomeLimited, 0, 0); !lone || l.current() != 16 {
		t.Fatalf("lone=%v limit=%d after one 429 at a working level, want true and 16", lone, l.current())
	}
	ts = append(ts[:15], mustAcquire(t, l)) // sent after it, as crowded
	l.release(ts[15], outcomeSuccess, time.Second, 0)
	ts = append(ts[:15], mustAcquire(t, l))
	if lone := l.release(ts[14], outcomeLimited, 0, 0); !lone || l.current() != 16 {
		t.Fatalf("lone=%v limit=%d after a 429 once the first was cleared, want true and 16", lone, l.current())
	}
	if lone := l.release(ts[13], outcomeLimited, 0, 0); lone || l.current() != 13 {
		t.Fatalf("lone=%v limit=%d after a second 429, want false and 13", lone, l.current())
	}
}
