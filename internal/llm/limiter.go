package llm

import (
	"context"
	"sync"
	"time"
)

// The limiter bounds the requests in flight per model and API key and
// learns the provider's allowance. It is AIMD, not a gradient limiter:
// providers reject (429) rather than queue, so the loss signal is explicit
// and immediate, while an LLM's latency is dominated by how many tokens it
// generates and says little about load; a gradient limiter steering by
// latency would chase prompt sizes. Latency is still used, but only to stop
// growing when answers slow down well beyond the best seen.
//
// Start: the first call to a model and key goes alone, so that the rate
// headers are known before a burst; its success opens limiterInitial.
// Increase: slow start (+1 per success, doubling per round trip) until the
// first 429, then +1 per window of successes back up to the level that last
// caused a 429, and above it one probe per limiterProbeMin successes, so a
// hard cap costs about one 429 per probe; a failed probe returns straight
// to that level. Other decreases, once per round trip (429s of calls sent
// before the last decrease are ignored): to min(limit*beta, calls in
// flight when the rejected call was sent), the second term being what the
// provider evidently allowed. Rate buckets (requests and tokens per
// minute) are not the limiter's business: ratelimit.go paces them.
const (
	limiterInitial    = 8
	limiterBeta       = 0.9
	limiterProbeMin   = 50
	latencyTolerance  = 2.0 // ewma latency over the best seen that stops growth
	latencyEWMAWeight = 0.2
	sharedRefresh     = 2 * time.Second
)

// SharedLimit is what processes using the same model and key tell each
// other: the concurrency at which the provider last refused, and a time
// before which nobody should send.
type SharedLimit struct {
	Limit         int       `json:"limit"`
	CooldownUntil time.Time `json:"cooldown_until"`
}

// SharedLimits stores SharedLimit by an opaque id (a hash of model and
// key). The NATS KV implementation lives where NATS is wired (cmd);
// limiters read it before ramping up and write it when they decrease.
type SharedLimits interface {
	Load(ctx context.Context, id string) (SharedLimit, bool)
	Store(ctx context.Context, id string, s SharedLimit)
}

// limiter is the adaptive concurrency limit of one model and key.
type limiter struct {
	mu        sync.Mutex
	now       func() time.Time
	max       int // the process's worker count: never more in flight
	limit     float64
	inflight  int
	waiters   []chan struct{}
	epoch     uint64 // bumped on every decrease
	slowStart bool
	ceiling   int // level known to be accepted when the last 429 came; 0 = none yet
	successes int // since the last probe above ceiling
	bestRTT   time.Duration
	ewmaRTT   time.Duration
	cooldown  time.Time // shared: nobody sends before
	fixed     bool
	// firstContact: no answer seen yet. One call goes alone, so that the
	// provider's rate-limit headers are known before a burst is sent.
	firstContact bool
	// admitted counts admissions; fullAt is the count when one last
	// filled the window. Growth needs a window full within about two
	// round trips: a light load proves nothing about the provider.
	admitted, fullAt uint64
	// okSentWith is 1 + the most others in flight with which a call sent
	// since the last decrease succeeded.
	okSentWith int

	id       string
	shared   SharedLimits
	lastLoad time.Time
	lastUsed time.Time
}

func newLimiter(max int, now func() time.Time, id string, shared SharedLimits) *limiter {
	max = maxInt(max, 1)
	return &limiter{now: now, max: max, limit: 1, firstContact: true, slowStart: true, id: id, shared: shared}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// ticket is one admitted call.
type ticket struct {
	epoch    uint64
	sentWith int // other calls in flight when this one was admitted
}

// current is the integer concurrency limit.
func (l *limiter) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}

// inFlight is the number of admitted calls.
func (l *limiter) inFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight
}

// acquire waits for a free slot, and for a shared cooldown to pass.
func (l *limiter) acquire(ctx context.Context, sleep func(context.Context, time.Duration) error) (*ticket, error) {
	l.refresh(ctx)
	l.mu.Lock()
	l.lastUsed = l.now()
	if wait := l.cooldown.Sub(l.now()); wait > 0 {
		l.mu.Unlock()
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		l.mu.Lock()
	}
	if l.inflight < int(l.limit) && len(l.waiters) == 0 {
		t := &ticket{epoch: l.epoch, sentWith: l.inflight}
		l.admitLocked()
		l.mu.Unlock()
		return t, nil
	}
	ch := make(chan struct{}, 1)
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		l.mu.Lock()
		t := &ticket{epoch: l.epoch, sentWith: l.inflight - 1}
		l.mu.Unlock()
		return t, nil
	case <-ctx.Done():
		l.mu.Lock()
		for i, w := range l.waiters {
			if w == ch {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				l.mu.Unlock()
				return nil, ctx.Err()
			}
		}
		// Granted meanwhile: give the slot back.
		l.inflight--
		l.wakeLocked()
		l.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (l *limiter) admitLocked() {
	l.inflight++
	l.admitted++
	if l.inflight >= int(l.limit) {
		l.fullAt = l.admitted
	}
}

// wakeLocked admits waiters while the limit allows.
func (l *limiter) wakeLocked() {
	for l.inflight < int(l.limit) && len(l.waiters) > 0 {
		ch := l.waiters[0]
		l.waiters = l.waiters[1:]
		l.admitLocked()
		ch <- struct{}{}
	}
}

// outcome of a call for the limiter.
type outcome int

const (
	outcomeOther   outcome = iota // an error that says nothing about load
	outcomeSuccess                // answered; latency counts
	outcomeLimited                // 429
)

// release returns t's slot and learns from the outcome. retryAfter, when
// a 429 carried one, is shared as a cooldown.
func (l *limiter) release(ctx context.Context, t *ticket, o outcome, latency, retryAfter time.Duration) {
	l.mu.Lock()
	l.inflight--
	var publish *SharedLimit
	if l.fixed {
		o = outcomeOther
	}
	switch {
	case l.firstContact && o == outcomeSuccess:
		l.firstContact = false
		l.limit = float64(min(limiterInitial, l.max))
		o = outcomeOther // the jump to limiterInitial is this answer's growth
	}
	switch o {
	case outcomeSuccess:
		l.succeededLocked(t, latency)
	case outcomeLimited:
		// A 429 for a call sent with fewer in flight than one that
		// succeeded since the last decrease is not about concurrency
		// (the provider's own overload, a quota): Retry-After and the
		// pacers deal with it, the limit stays.
		// The margin allows for calls we still count that the provider
		// has finished.
		// Nor is one refused while alone: no cap is zero.
		if t.epoch == l.epoch && t.sentWith > 0 && t.sentWith+2+l.okSentWith/4 >= l.okSentWith {
			l.decreaseLocked(t)
			s := SharedLimit{Limit: int(l.limit)}
			if retryAfter > 0 {
				s.CooldownUntil = l.now().Add(retryAfter)
			}
			publish = &s
		}
	}
	l.wakeLocked()
	l.mu.Unlock()
	if publish != nil && l.shared != nil {
		l.shared.Store(ctx, l.id, *publish)
	}
}

func (l *limiter) succeededLocked(t *ticket, latency time.Duration) {
	if t.epoch == l.epoch {
		l.okSentWith = max(l.okSentWith, t.sentWith+1)
	}
	if latency > 0 {
		if l.bestRTT == 0 || latency < l.bestRTT {
			l.bestRTT = latency
		}
		if l.ewmaRTT == 0 {
			l.ewmaRTT = latency
		} else {
			l.ewmaRTT = time.Duration(latencyEWMAWeight*float64(latency) + (1-latencyEWMAWeight)*float64(l.ewmaRTT))
		}
	}
	// Grow only when the window is used (a light load proves nothing) and
	// answers are not slowing down (the provider may be queueing us).
	used := len(l.waiters) > 0 || l.admitted-l.fullAt <= uint64(2*int(l.limit))
	if !used || l.limit >= float64(l.max) {
		return
	}
	if l.bestRTT > 0 && float64(l.ewmaRTT) > latencyTolerance*float64(l.bestRTT) {
		return
	}
	switch {
	case l.slowStart:
		l.limit++
	case l.ceiling == 0 || int(l.limit) < l.ceiling:
		l.limit += 1 / l.limit
	default:
		l.successes++
		if l.successes >= maxInt(limiterProbeMin, 5*int(l.limit)) {
			l.successes = 0
			l.limit++
		}
	}
	l.limit = min(l.limit, float64(l.max))
}

func (l *limiter) decreaseLocked(t *ticket) {
	if !l.slowStart && l.ceiling > 0 && int(l.limit) > l.ceiling {
		// A failed probe: back to the level known to work.
		l.limit = float64(max(min(l.ceiling, t.sentWith), 1))
	} else {
		l.limit = max(min(l.limit*limiterBeta, float64(t.sentWith)), 1)
	}
	l.ceiling = maxInt(t.sentWith, 1)
	l.slowStart = false
	l.successes = 0
	l.okSentWith = 0
	l.epoch++
}

// refresh adopts what other processes learned, at most every
// sharedRefresh, outside the lock (it may go to the network).
func (l *limiter) refresh(ctx context.Context) {
	if l.shared == nil {
		return
	}
	l.mu.Lock()
	now := l.now()
	due := now.Sub(l.lastLoad) >= sharedRefresh
	if due {
		l.lastLoad = now
	}
	l.mu.Unlock()
	if !due {
		return
	}
	s, ok := l.shared.Load(ctx, l.id)
	if !ok {
		return
	}
	l.adopt(s)
}

// adopt takes a shared limit lower than ours as our own ceiling.
func (l *limiter) adopt(s SharedLimit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.CooldownUntil.After(l.cooldown) {
		l.cooldown = s.CooldownUntil
	}
	if s.Limit > 0 && s.Limit < int(l.limit) {
		l.limit = float64(s.Limit)
		l.ceiling = s.Limit
		l.slowStart = false
		l.successes = 0
		l.epoch++
	}
}

// limiters is a registry of limiters by model and key hash.
type limiters struct {
	mu        sync.Mutex
	m         map[string]*limiter
	lastSweep time.Time
	max       int
	fixed     bool // benchmarks: a plain semaphore of max, nothing learned
	now       func() time.Time
	shared    SharedLimits
}

func (r *limiters) get(id string) *limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*limiter{}
	}
	if now := r.now(); now.Sub(r.lastSweep) > time.Minute {
		r.lastSweep = now
		for k, l := range r.m {
			l.mu.Lock()
			idle := l.inflight == 0 && len(l.waiters) == 0 && now.Sub(l.lastUsed) > pacerIdleTTL
			l.mu.Unlock()
			if idle {
				delete(r.m, k)
			}
		}
	}
	l := r.m[id]
	if l == nil {
		l = newLimiter(r.max, r.now, id, r.shared)
		if r.fixed {
			l.limit, l.fixed, l.firstContact = float64(l.max), true, false
		}
		r.m[id] = l
	}
	return l
}

// memShared is an in-process SharedLimits, for tests and for a single
// process without NATS.
type memShared struct {
	mu sync.Mutex
	m  map[string]SharedLimit
}

// NewMemSharedLimits returns an in-memory SharedLimits.
func NewMemSharedLimits() SharedLimits { return &memShared{m: map[string]SharedLimit{}} }

func (s *memShared) Load(_ context.Context, id string) (SharedLimit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	return v, ok
}

func (s *memShared) Store(_ context.Context, id string, v SharedLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = v
}
