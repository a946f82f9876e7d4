package llm

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// providerLimits are the limits a limitedProvider enforces per API key, as
// OpenAI-compatible providers do. Zero fields mean no such limit.
type providerLimits struct {
	Concurrency int           // requests in flight at once
	ReqPerSec   float64       // requests bucket refill rate
	ReqBurst    float64       // requests bucket size
	TokPerSec   float64       // tokens bucket refill rate
	TokBurst    float64       // tokens bucket size
	Latency     time.Duration // time to answer a successful request
}

// tokensPerAnswer is what answer() reports as total tokens; the tokens
// bucket charges it when the request arrives.
const tokensPerAnswer = 15

// limitedProvider is a fake OpenAI-compatible server with limits per key:
// over the concurrency cap or out of bucket it answers 429 with
// Retry-After; every answer carries x-ratelimit-* headers for the buckets
// it enforces.
type limitedProvider struct {
	srv *httptest.Server
	lim providerLimits

	mu            sync.Mutex
	keys          map[string]*keyState
	calls, ok, rl int
	peak          int
	busy          time.Duration // summed time successful calls held a slot
	first, last   time.Time     // first arrival, last successful answer
}

type keyState struct {
	inflight  int
	req, tok  float64
	refreshed time.Time
}

func newLimitedProvider(tb testing.TB, lim providerLimits) *limitedProvider {
	tb.Helper()
	p := &limitedProvider{lim: lim, keys: map[string]*keyState{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.handle))
	tb.Cleanup(p.srv.Close)
	return p
}

func (p *limitedProvider) baseURL() string { return p.srv.URL + "/v1" }

func (p *limitedProvider) handle(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	p.mu.Lock()
	p.calls++
	if p.first.IsZero() {
		p.first = now
	}
	k := p.keys[r.Header.Get("Authorization")]
	if k == nil {
		k = &keyState{req: p.lim.ReqBurst, tok: p.lim.TokBurst, refreshed: now}
		p.keys[r.Header.Get("Authorization")] = k
	}
	el := now.Sub(k.refreshed).Seconds()
	k.refreshed = now
	k.req = min(k.req+el*p.lim.ReqPerSec, p.lim.ReqBurst)
	k.tok = min(k.tok+el*p.lim.TokPerSec, p.lim.TokBurst)

	var retry float64
	switch {
	case p.lim.Concurrency > 0 && k.inflight >= p.lim.Concurrency:
		retry = p.lim.Latency.Seconds()
	case p.lim.ReqPerSec > 0 && k.req < 1:
		retry = (1 - k.req) / p.lim.ReqPerSec
	case p.lim.TokPerSec > 0 && k.tok < tokensPerAnswer:
		retry = (tokensPerAnswer - k.tok) / p.lim.TokPerSec
	}
	if retry == 0 {
		if p.lim.ReqPerSec > 0 {
			k.req--
		}
		if p.lim.TokPerSec > 0 {
			k.tok -= tokensPerAnswer
		}
		k.inflight++
		p.peak = max(p.peak, k.inflight)
	} else {
		p.rl++
	}
	p.setHeaders(w.Header(), k)
	p.mu.Unlock()

	if retry > 0 {
		fail(w, http.StatusTooManyRequests, strconv.FormatFloat(retry, 'f', 3, 64), "rate limit reached")
		return
	}
	select {
	case <-time.After(p.lim.Latency):
	case <-r.Context().Done():
	}
	p.mu.Lock()
	p.busy += time.Since(now)
	k.inflight--
	p.ok++
	p.last = time.Now()
	p.mu.Unlock()
	answer(w, testModel, goodTiers)
}

func (p *limitedProvider) setHeaders(h http.Header, k *keyState) {
	set := func(dim string, limit, remaining, rate float64) {
		h.Set("X-Ratelimit-Limit-"+dim, strconv.FormatFloat(limit, 'f', 0, 64))
		h.Set("X-Ratelimit-Remaining-"+dim, strconv.FormatFloat(math.Floor(max(remaining, 0)), 'f', 0, 64))
		reset := time.Duration((limit - max(remaining, 0)) / rate * float64(time.Second))
		h.Set("X-Ratelimit-Reset-"+dim, reset.Round(time.Millisecond).String())
	}
	if p.lim.ReqPerSec > 0 {
		set("requests", p.lim.ReqBurst, k.req, p.lim.ReqPerSec)
	}
	if p.lim.TokPerSec > 0 {
		set("tokens", p.lim.TokBurst, k.tok, p.lim.TokPerSec)
	}
}

// stats returns calls, successes, 429s, peak concurrency and the span
// from the first arrival to the last success.
func (p *limitedProvider) stats() (calls, ok, limited, peak int, span time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.ok, p.rl, p.peak, p.last.Sub(p.first)
}

// reset forgets the counters (not the buckets), to measure a warm client.
func (p *limitedProvider) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls, p.ok, p.rl, p.peak, p.busy = 0, 0, 0, 0, 0
	p.first, p.last = time.Time{}, time.Time{}
}

// occupancy is the share of the concurrency cap's slot time used by
// successful calls over the span: what the limiter made of the slots,
// apart from the client's CPU time between calls.
func (p *limitedProvider) occupancy() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lim.Concurrency == 0 || p.last.IsZero() {
		return 0
	}
	return p.busy.Seconds() / (float64(p.lim.Concurrency) * p.last.Sub(p.first).Seconds())
}

// allowed is how many successful calls the limits permit within span.
func (lim providerLimits) allowed(span time.Duration) float64 {
	best := -1.0
	consider := func(v float64) {
		if best < 0 || v < best {
			best = v
		}
	}
	if lim.Concurrency > 0 {
		consider(float64(lim.Concurrency) * span.Seconds() / lim.Latency.Seconds())
	}
	if lim.ReqPerSec > 0 {
		consider(lim.ReqBurst + lim.ReqPerSec*span.Seconds())
	}
	if lim.TokPerSec > 0 {
		consider((lim.TokBurst + lim.TokPerSec*span.Seconds()) / tokensPerAnswer)
	}
	return best
}

func (lim providerLimits) String() string {
	return fmt.Sprintf("conc=%d req=%.0f/s(burst %.0f) tok=%.0f/s(burst %.0f)", lim.Concurrency, lim.ReqPerSec, lim.ReqBurst, lim.TokPerSec, lim.TokBurst)
}
