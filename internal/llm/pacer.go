package llm

import (
	"context"
	"sync"
	"time"
)

// Pacing constants. The pace starts unthrottled: a provider that never
// answers 429 should not cost a job any time. The first 429 sets a minimum
// interval of paceFloor between calls (the original product's fixed 0.5 s),
// which then doubles on every 429 and shrinks by paceDecay after
// paceStreak successes; once it falls below half the floor, pacing stops.
const (
	defaultPaceFloor = 500 * time.Millisecond
	paceDecay        = 0.8
	paceStreak       = 3
	pacerIdleTTL     = 30 * time.Minute
)

// pacer spaces the calls that share it (one job, or one API key) and holds
// them all back while the provider has asked us to wait.
type pacer struct {
	mu           sync.Mutex
	interval     time.Duration // minimum gap between call starts
	next         time.Time     // earliest start of the next call (reserved slots)
	blockedUntil time.Time     // Retry-After deadline
	limitedAt    time.Time     // the last 429 any caller got
	gen          uint64        // bumped when blockedUntil moves, so sleepers re-check
	streak       int           // successes since the last change of interval
	lastUsed     time.Time

	// Rate budget from the provider's headers (ratelimit.go): credit calls
	// may start unspaced, then budgetInterval spaces them.
	credit         float64
	budgetInterval time.Duration
	tokensPerCall  float64 // moving average, for the tokens bucket
}

// setBudget records the latest budget announced by the provider.
func (p *pacer) setBudget(credit float64, interval time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.credit, p.budgetInterval = credit, interval
	if credit >= 1 && p.next.After(time.Now()) && p.interval == 0 {
		// Room in the bucket again: no need to keep callers spaced.
		p.next = time.Now()
	}
}

// observeTokens folds one call's token count into the average.
func (p *pacer) observeTokens(n int) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tokensPerCall == 0 {
		p.tokensPerCall = float64(n)
	} else {
		p.tokensPerCall = 0.8*p.tokensPerCall + 0.2*float64(n)
	}
}

func (p *pacer) avgTokens() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokensPerCall
}

// wait blocks until this caller may send a request. Each caller reserves a
// slot, so concurrent callers are spaced by interval rather than released
// together when a Retry-After deadline passes.
func (p *pacer) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) error {
	for {
		p.mu.Lock()
		now := time.Now()
		p.lastUsed = now
		start := now
		if p.blockedUntil.After(start) {
			start = p.blockedUntil
		}
		if p.next.After(start) {
			start = p.next
		}
		gap := p.interval
		if p.budgetInterval > 0 {
			if p.credit >= 1 {
				p.credit--
			} else {
				gap = max(gap, p.budgetInterval)
			}
		}
		p.next = start.Add(gap)
		gen := p.gen
		p.mu.Unlock()

		if d := start.Sub(now); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return err
			}
		}
		// A 429 seen by another caller while we slept pushes us back too.
		p.mu.Lock()
		moved := p.gen != gen && time.Now().Before(p.blockedUntil)
		p.mu.Unlock()
		if !moved {
			return nil
		}
	}
}

// holdWhileBlocked waits, without reserving a slot, while a Retry-After
// deadline holds. A few rounds cover a deadline that moves meanwhile.
func (p *pacer) holdWhileBlocked(ctx context.Context, sleep func(context.Context, time.Duration) error) error {
	for range 3 {
		p.mu.Lock()
		d := time.Until(p.blockedUntil)
		p.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// block keeps every caller away until now+d.
func (p *pacer) block(d time.Duration) {
	if d <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := time.Now().Add(d); until.After(p.blockedUntil) {
		p.blockedUntil = until
		p.gen++
	}
}

// rateLimited doubles the interval (from floor, capped at ceiling) and
// blocks everyone for d.
func (p *pacer) rateLimited(d, floor, ceiling time.Duration) {
	p.mu.Lock()
	p.interval = min(max(2*p.interval, floor), ceiling)
	p.streak = 0
	p.mu.Unlock()
	p.block(d)
}

// succeeded relaxes the interval after a streak of successes.
func (p *pacer) succeeded(floor time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.interval == 0 {
		return
	}
	p.streak++
	if p.streak < paceStreak {
		return
	}
	p.streak = 0
	p.interval = time.Duration(float64(p.interval) * paceDecay)
	if p.interval < floor/2 {
		p.interval = 0
	}
}

// pacers is a registry of pacers by name. Entries outlive single Tag calls
// on purpose: the documents of a job are tagged one after another, and the
// pace learned on one must carry over to the next.
type pacers struct {
	mu        sync.Mutex
	m         map[string]*pacer
	lastSweep time.Time
}

func (r *pacers) get(name string) *pacer {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.m == nil {
		r.m = map[string]*pacer{}
	}
	if now.Sub(r.lastSweep) > time.Minute {
		r.lastSweep = now
		for k, p := range r.m {
			p.mu.Lock()
			idle := now.Sub(p.lastUsed) > pacerIdleTTL && now.After(p.blockedUntil)
			p.mu.Unlock()
			if idle {
				delete(r.m, k)
			}
		}
	}
	p := r.m[name]
	if p == nil {
		p = &pacer{lastUsed: now}
		r.m[name] = p
	}
	return p
}

// sleepCtx is the default Config.Sleep: a timer that gives up when ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refused notes a 429 on this pacer's calls.
func (p *pacer) refused() {
	p.mu.Lock()
	p.limitedAt = time.Now()
	p.mu.Unlock()
}

// blockedNow reports a Retry-After hold in force.
func (p *pacer) blockedNow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blockedUntil.After(time.Now())
}

// refusedSince reports whether a caller got a 429 after t.
func (p *pacer) refusedSince(t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limitedAt.After(t)
}
