package llmfake

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Limits are what a provider enforces per API key, as OpenAI-compatible
// providers do. Zero fields mean no such limit. Over the concurrency cap
// or out of a bucket, a call gets 429 with Retry-After; every answer
// carries x-ratelimit-* headers for the buckets enforced. A call costs
// Options.Usage.Total() tokens, charged when it arrives.
type Limits struct {
	Concurrency int     // requests in flight at once
	ReqPerSec   float64 // requests bucket refill rate
	ReqBurst    float64 // requests bucket size
	TokPerSec   float64 // tokens bucket refill rate
	TokBurst    float64 // tokens bucket size
}

func (l Limits) String() string {
	return fmt.Sprintf("conc=%d req=%.0f/s(burst %.0f) tok=%.0f/s(burst %.0f)", l.Concurrency, l.ReqPerSec, l.ReqBurst, l.TokPerSec, l.TokBurst)
}

type keyState struct {
	inflight  int
	req, tok  float64
	refreshed time.Time
}

// limitState is guarded by Server.mu.
type limitState struct {
	keys          map[string]*keyState
	calls, ok, rl int
	peak          int
	busy          time.Duration // summed time answered calls held a slot
	first, last   time.Time     // first arrival, last answer
}

// admit applies the limits to r: refused, it has written the 429;
// admitted, release gives back the concurrency slot.
func (s *Server) admit(w http.ResponseWriter, r Request) (release func(), refused bool) {
	lim := s.opts.Limits
	if lim == nil {
		return func() {}, false
	}
	cost := float64(s.opts.Usage.Total())
	s.mu.Lock()
	st := &s.lim
	st.calls++
	if st.first.IsZero() {
		st.first = r.At
	}
	k := st.keys[r.Auth]
	if k == nil {
		k = &keyState{req: lim.ReqBurst, tok: lim.TokBurst, refreshed: r.At}
		st.keys[r.Auth] = k
	}
	el := r.At.Sub(k.refreshed).Seconds()
	k.refreshed = r.At
	k.req = min(k.req+el*lim.ReqPerSec, lim.ReqBurst)
	k.tok = min(k.tok+el*lim.TokPerSec, lim.TokBurst)

	var retry float64
	switch {
	case lim.Concurrency > 0 && k.inflight >= lim.Concurrency:
		retry = s.opts.Latency.Seconds()
	case lim.ReqPerSec > 0 && k.req < 1:
		retry = (1 - k.req) / lim.ReqPerSec
	case lim.TokPerSec > 0 && k.tok < cost:
		retry = (cost - k.tok) / lim.TokPerSec
	}
	if retry == 0 {
		if lim.ReqPerSec > 0 {
			k.req--
		}
		if lim.TokPerSec > 0 {
			k.tok -= cost
		}
		k.inflight++
		st.peak = max(st.peak, k.inflight)
	} else {
		st.rl++
	}
	h := w.Header()
	if lim.ReqPerSec > 0 {
		setBucket(h, "requests", lim.ReqBurst, math.Floor(max(k.req, 0)), refill(lim.ReqBurst, k.req, lim.ReqPerSec))
	}
	if lim.TokPerSec > 0 {
		setBucket(h, "tokens", lim.TokBurst, math.Floor(max(k.tok, 0)), refill(lim.TokBurst, k.tok, lim.TokPerSec))
	}
	s.mu.Unlock()

	if retry > 0 {
		w.Header().Set("Retry-After", strconv.FormatFloat(retry, 'f', 3, 64))
		Fail(w, http.StatusTooManyRequests, "", "rate limit reached")
		return nil, true
	}
	return func() {
		s.mu.Lock()
		k.inflight--
		s.mu.Unlock()
	}, false
}

// refill is the time until a bucket holding remaining of limit is full.
func refill(limit, remaining, rate float64) time.Duration {
	return time.Duration((limit - max(remaining, 0)) / rate * float64(time.Second)).Round(time.Millisecond)
}

// answered counts a successful answer of the fake's own for the stats.
func (s *Server) answered(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.lim.ok++
	s.lim.busy += now.Sub(r.At)
	s.lim.last = now
}

// Stats are what a limited fake counted since it started or was Reset.
type Stats struct {
	Calls, OK, Limited int           // calls, successful answers, 429s
	Peak               int           // most admitted calls of one key in flight at once
	Span               time.Duration // first arrival to last successful answer
}

// Stats returns the limits' counters (all zero without Limits).
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lim
	return Stats{Calls: st.calls, OK: st.ok, Limited: st.rl, Peak: st.peak, Span: st.last.Sub(st.first)}
}

// Reset forgets the counters (not the buckets), to measure a warm client.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim.calls, s.lim.ok, s.lim.rl, s.lim.peak, s.lim.busy = 0, 0, 0, 0, 0
	s.lim.first, s.lim.last = time.Time{}, time.Time{}
}

// Occupancy is the share of the concurrency cap's slot time used by
// successful calls over the span: what the client made of the slots,
// apart from its CPU time between calls.
func (s *Server) Occupancy() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	lim := s.opts.Limits
	if lim == nil || lim.Concurrency == 0 || s.lim.last.IsZero() {
		return 0
	}
	return s.lim.busy.Seconds() / (float64(lim.Concurrency) * s.lim.last.Sub(s.lim.first).Seconds())
}

// Allowed is how many successful calls the limits permit within span.
func (s *Server) Allowed(span time.Duration) float64 {
	lim := s.opts.Limits
	if lim == nil {
		return -1
	}
	best := -1.0
	consider := func(v float64) {
		if best < 0 || v < best {
			best = v
		}
	}
	if lim.Concurrency > 0 {
		consider(float64(lim.Concurrency) * span.Seconds() / s.opts.Latency.Seconds())
	}
	if lim.ReqPerSec > 0 {
		consider(lim.ReqBurst + lim.ReqPerSec*span.Seconds())
	}
	if lim.TokPerSec > 0 {
		consider((lim.TokBurst + lim.TokPerSec*span.Seconds()) / float64(s.opts.Usage.Total()))
	}
	return best
}
