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
// headers are known before a burst; its answer opens limiterInitial. The
// gate is bounded: a probe that ends without an answer (cancelled, cut
// off) hands the gate to the next caller, and one still out after
// firstContactMax opens it anyway, so no caller waits on another's hung
// call for longer than that.
// Increase: slow start (+1 per success, doubling per round trip) until the
// first 429, then +1 per window of successes back up to the level that last
// caused a 429, and above it one probe per limiterProbeMin successes, so a
// hard cap costs about one 429 per probe; a failed probe returns straight
// to that level. Other decreases, once per round trip (429s of calls sent
// before the last decrease are ignored): to min(limit*beta, calls in
// flight when the rejected call was sent), the second term being what the
// provider evidently allowed. A 429 on its own is not yet a limit:
// providers also refuse single calls when they are themselves overloaded,
// and lowering the limit (and its ceiling) for each of those sank a job to
// a fraction of its workers. So the first 429 is only noted; the decrease
// comes with a second one before calls sent after it show the level
// works (one as crowded, or two rounds of any). At a real cap the next
// crowded call is refused too. Only 429s at a level that has worked
// since the last decrease are noted first: a refused call more crowded
// than that (slow start, a probe) answers the exploration at once, so a
// probe still costs one 429. Rate
// buckets (requests and tokens per minute) are not the limiter's
// business: ratelimit.go paces them.
//
// Sharing is advisory and never on the path of a call: loads and stores
// run in the background, one at a time per limiter, and a new limiter
// waits at most sharedFirstWait for its first load.
const (
	limiterInitial    = 8
	limiterBeta       = 0.9
	limiterProbeMin   = 50
	latencyTolerance  = 2.0 // ewma latency over the best seen that stops growth
	latencyEWMAWeight = 0.2
	sharedRefresh     = 2 * time.Second
	firstContactMax   = 10 * time.Second
	// sharedFirstWait bounds how long a new limiter waits for the first
	// shared load (a cooldown another process learned); a KV that does
	// not answer costs this once, not per call.
	sharedFirstWait = 250 * time.Millisecond
	// maxSharedCooldown caps a cooldown adopted from another process: a
	// wrong Retry-After or clock must not stop every process for long.
	maxSharedCooldown = time.Minute
)

// SharedLimit is what processes using the same model and key tell each
// other: the concurrency at which the provider last refused, and a time
// before which nobody should send.
type SharedLimit struct {
	Limit         int       `json:"limit"`
	CooldownUntil time.Time `json:"cooldown_until"`
	// At is when it was published: each publication is adopted once, so
	// that a limit learned in a bad minute does not pin every process
	// down again each refresh while the entry lives.
	At time.Time `json:"at,omitzero"`
}

// SharedLimits stores SharedLimit by an opaque id (a hash of model and
// key). The NATS KV implementation lives where NATS is wired (cmd);
// limiters read it before ramping up and write it when they decrease.
// Implementations should give up after a short timeout; the limiter
// never waits for them beyond sharedFirstWait, even if they hang.
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
	probeSince   time.Time // when the current first-contact probe was admitted
	// A 429 noted but not yet acted on (see the doc comment): the
	// admission count at the time and the crowding of the refused call.
	lonePending  bool
	loneAdmitted uint64
	loneSentWith int
	loneOK       int // successes of calls sent after it
	// admitted counts admissions; fullAt is the count when one last
	// filled the window. Growth needs a window full within about two
	// round trips: a light load proves nothing about the provider.
	admitted, fullAt uint64
	// okSentWith is 1 + the most others in flight with which a call sent
	// since the last decrease succeeded.
	okSentWith int

	id        string
	shared    SharedLimits
	lastLoad  time.Time
	lastUsed  time.Time
	loading   bool          // a background load is out
	loaded    chan struct{} // closed when the first load ended
	waited    bool          // someone already waited sharedFirstWait for it
	storing   bool          // a background store is out
	pending   *SharedLimit  // the next value to store after it
	adoptedAt time.Time     // the newest publication adopted (or ours)
}

func newLimiter(max int, now func() time.Time, id string, shared SharedLimits) *limiter {
	max = maxInt(max, 1)
	return &limiter{now: now, max: max, limit: 1, firstContact: true, slowStart: true, id: id, shared: shared,
		loaded: make(chan struct{})}
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
	sentWith int    // other calls in flight when this one was admitted
	seq      uint64 // the limiter's admission count after admitting it
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

// acquire waits for a free slot, and for a shared cooldown to pass. Every
// wait ends with ctx; none depends on the shared store answering.
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
	l.openStaleGateLocked()
	if l.inflight < int(l.limit) && len(l.waiters) == 0 {
		l.admitLocked()
		t := &ticket{epoch: l.epoch, sentWith: l.inflight - 1, seq: l.admitted}
		l.mu.Unlock()
		return t, nil
	}
	ch := make(chan struct{}, 1)
	l.waiters = append(l.waiters, ch)
	for {
		// While a first-contact probe is out, wake up when it has been
		// out too long, to open the gate ourselves.
		var gate <-chan time.Time
		var tm *time.Timer
		if l.firstContact && !l.probeSince.IsZero() {
			tm = time.NewTimer(max(firstContactMax-l.now().Sub(l.probeSince), time.Millisecond))
			gate = tm.C
		}
		l.mu.Unlock()
		select {
		case <-ch:
			stopTimer(tm)
			l.mu.Lock()
			t := &ticket{epoch: l.epoch, sentWith: l.inflight - 1, seq: l.admitted}
			l.mu.Unlock()
			return t, nil
		case <-gate:
			l.mu.Lock()
			l.openStaleGateLocked()
		case <-ctx.Done():
			stopTimer(tm)
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
}

// openStaleGateLocked opens the first-contact gate when its probe has
// been out for firstContactMax: the others have waited long enough, and
// the probe's own answer will still be learned from.
func (l *limiter) openStaleGateLocked() {
	if !l.firstContact || l.probeSince.IsZero() || l.now().Sub(l.probeSince) < firstContactMax {
		return
	}
	l.openGateLocked()
	l.wakeLocked()
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

func (l *limiter) openGateLocked() {
	l.firstContact = false
	l.probeSince = time.Time{}
	l.limit = float64(min(limiterInitial, l.max))
}

func (l *limiter) admitLocked() {
	l.inflight++
	l.admitted++
	if l.inflight >= int(l.limit) {
		l.fullAt = l.admitted
	}
	if l.firstContact && l.probeSince.IsZero() {
		l.probeSince = l.now()
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
	outcomeOther    outcome = iota // an error that says nothing about load
	outcomeSuccess                 // answered; latency counts
	outcomeLimited                 // 429
	outcomeAnswered                // an answer that is an error (400, unreadable): the endpoint works
)

// release returns t's slot and learns from the outcome. retryAfter, when
// a 429 carried one, is shared as a cooldown. It reports whether a 429
// was only noted (lone): the caller then holds back that call alone,
// unless the provider asked for more with a Retry-After.
func (l *limiter) release(t *ticket, o outcome, latency, retryAfter time.Duration) (lone bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	if l.fixed {
		o = outcomeOther
	}
	if l.firstContact {
		switch o {
		case outcomeSuccess, outcomeAnswered:
			l.openGateLocked()
			o = outcomeOther // the jump to limiterInitial is this answer's growth
		default:
			// No answer (or a 429 while alone): the next caller probes.
			l.probeSince = time.Time{}
		}
	}
	switch o {
	case outcomeSuccess:
		l.succeededLocked(t, latency)
	case outcomeLimited:
		switch {
		case t.epoch != l.epoch:
			// Sent before the last decrease, which answered it already.
		case t.sentWith == 0:
			// Refused while alone: no cap is zero.
		case t.sentWith+2+l.okSentWith/4 < l.okSentWith:
			// A call sent with fewer in flight than one that succeeded
			// since the last decrease: not about concurrency (the
			// provider's own overload, a quota); Retry-After and the
			// pacers deal with it. The margin allows for calls we
			// still count that the provider has finished. The first
			// such refusal is noted only, as at the level that works
			// below: one 429 in 50 that fell on a quiet moment paced
			// the whole job to one call at a time (a flaky test).
			if !l.lonePending {
				lone = l.noteLoneLocked(t)
			}
		case !l.lonePending && !l.exploringLocked(t):
			lone = l.noteLoneLocked(t)
		default:
			sentWith := t.sentWith
			if l.lonePending {
				sentWith = min(sentWith, l.loneSentWith)
			}
			l.decreaseLocked(sentWith)
			s := SharedLimit{Limit: int(l.limit), At: l.now()}
			if retryAfter > 0 {
				s.CooldownUntil = l.now().Add(retryAfter)
			}
			l.publishLocked(s)
		}
	}
	l.wakeLocked()
	return lone
}

// noteLoneLocked notes t's 429 as lone: no decrease until another comes
// before a call as crowded succeeds (succeededLocked clears it).
func (l *limiter) noteLoneLocked(t *ticket) bool {
	l.lonePending, l.loneAdmitted, l.loneSentWith, l.loneOK = true, l.admitted, t.sentWith, 0
	return true
}

func (l *limiter) succeededLocked(t *ticket, latency time.Duration) {
	if t.epoch == l.epoch {
		l.okSentWith = max(l.okSentWith, t.sentWith+1)
	}
	if l.lonePending && t.seq > l.loneAdmitted {
		// Calls sent after the noted 429 got through without another:
		// it was not about our concurrency. One as crowded proves it;
		// less crowded ones (the refused call is away retrying) take
		// two rounds. At a real cap, the slot the refused call freed is
		// refused again long before either.
		l.loneOK++
		if t.sentWith >= l.loneSentWith || l.loneOK > 2*(l.loneSentWith+1) {
			l.lonePending = false
		}
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

// exploringLocked: t was sent more crowded than any call that succeeded
// since the last decrease (slow start, a probe above the ceiling), and
// was refused. That answers the exploration at once: waiting for a
// second 429, as for a lone one at a level that works, let slow start
// run on past the cap and doubled what each probe costs.
func (l *limiter) exploringLocked(t *ticket) bool {
	return t.sentWith >= l.okSentWith
}

// decreaseLocked lowers the limit after 429s of calls sent with sentWith
// others in flight.
func (l *limiter) decreaseLocked(sentWith int) {
	if !l.slowStart && l.ceiling > 0 && int(l.limit) > l.ceiling {
		// A failed probe: back to the level known to work.
		l.limit = float64(max(min(l.ceiling, sentWith), 1))
	} else {
		l.limit = max(min(l.limit*limiterBeta, float64(sentWith)), 1)
	}
	l.ceiling = maxInt(sentWith, 1)
	l.lonePending = false
	l.slowStart = false
	l.successes = 0
	l.okSentWith = 0
	l.epoch++
}

// refresh starts a background load of what other processes learned, at
// most every sharedRefresh and one at a time. Only a limiter's first use
// waits for it, at most sharedFirstWait: a shared cooldown is then known
// before the first call, and a store that hangs costs that once.
func (l *limiter) refresh(ctx context.Context) {
	if l.shared == nil {
		return
	}
	l.mu.Lock()
	now := l.now()
	if !l.loading && now.Sub(l.lastLoad) >= sharedRefresh {
		l.loading, l.lastLoad = true, now
		go l.load()
	}
	wait := !l.waited
	l.waited = true
	l.mu.Unlock()
	if !wait {
		return
	}
	tm := time.NewTimer(sharedFirstWait)
	defer tm.Stop()
	// A cancelled caller stops waiting too; acquire then decides.
	select {
	case <-l.loaded:
	case <-tm.C:
	case <-ctx.Done():
	}
}

// load runs one shared load; the implementation bounds it (cmd uses a
// short timeout), and if it does not, no caller waits for it.
func (l *limiter) load() {
	s, ok := l.shared.Load(context.Background(), l.id)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		l.adoptLocked(s)
	}
	l.loading = false
	select {
	case <-l.loaded:
	default:
		close(l.loaded)
	}
}

// publishLocked stores s in the background; while a store is out, only
// the newest value waits for the next one.
func (l *limiter) publishLocked(s SharedLimit) {
	if l.shared == nil {
		return
	}
	l.adoptedAt = s.At // our own: not to be adopted back
	if l.storing {
		l.pending = &s
		return
	}
	l.storing = true
	go func() {
		for {
			l.shared.Store(context.Background(), l.id, s)
			l.mu.Lock()
			if l.pending == nil {
				l.storing = false
				l.mu.Unlock()
				return
			}
			s, l.pending = *l.pending, nil
			l.mu.Unlock()
		}
	}()
}

// adoptLocked takes a shared limit lower than ours as our own ceiling,
// once per publication, and a shared cooldown up to maxSharedCooldown.
func (l *limiter) adoptLocked(s SharedLimit) {
	now := l.now()
	cd := s.CooldownUntil
	if limit := now.Add(maxSharedCooldown); cd.After(limit) {
		cd = limit
	}
	if cd.After(l.cooldown) {
		l.cooldown = cd
	}
	// During first contact the limit is 1: the publication is adopted at
	// a later refresh, once the gate has opened.
	if l.firstContact || s.At.IsZero() || !s.At.After(l.adoptedAt) {
		return
	}
	l.adoptedAt = s.At
	if s.Limit > 0 && s.Limit < int(l.limit) {
		l.limit = float64(s.Limit)
		l.ceiling = s.Limit
		l.slowStart = false
		l.successes = 0
		l.lonePending = false
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
