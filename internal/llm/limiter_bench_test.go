package llm

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

// runAgainst tags docs documents with callers concurrent callers through
// one client against p, and returns the documents that failed.
func runAgainst(tb testing.TB, c *Client, docs, callers int) int {
	tb.Helper()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for next.Add(1) <= int64(docs) {
				if _, err := c.Tag(context.Background(), baseRequest()); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(failed.Load())
}

// benchLimits runs docs documents with 32 callers against a fake with lim
// and reports throughput, its share of what lim allows, and 429s.
func benchLimits(b *testing.B, lim llmfake.Limits, docs int, adaptive bool) {
	benchLimitsWarm(b, lim, docs, adaptive, 0)
}

// benchLimitsWarm first tags warm documents with the same client, unmeasured.
func benchLimitsWarm(b *testing.B, lim llmfake.Limits, docs int, adaptive bool, warm int) {
	for range b.N {
		p := llmfake.New(b, llmfake.Options{Usage: testUsage, Latency: benchLatency, Limits: &lim})
		c := New(Config{BaseURL: p.BaseURL(), DocTimeout: time.Minute, MaxConcurrency: 32})
		c.limiters.fixed = !adaptive
		if warm > 0 {
			runAgainst(b, c, warm, 32)
			p.Reset()
		}
		if failed := runAgainst(b, c, docs, 32); failed > 0 {
			b.Errorf("%d documents failed", failed)
		}
		st := p.Stats()
		calls, ok, limited, span := st.Calls, st.OK, st.Limited, st.Span
		b.ReportMetric(float64(ok)/span.Seconds(), "docs/s")
		if a := p.Allowed(span); a > 0 {
			b.ReportMetric(100*float64(ok)/a, "%allowed")
		}
		b.ReportMetric(100*float64(limited)/float64(calls), "%429")
		if occ := p.Occupancy(); occ > 0 {
			b.ReportMetric(100*occ, "%slots")
		}
	}
}

const benchLatency = 200 * time.Millisecond

func BenchmarkAdaptiveNoLimit(b *testing.B) {
	benchLimits(b, llmfake.Limits{}, 640, true)
}

// The same once the client has learned (the limit is kept per process).
func BenchmarkAdaptiveNoLimitWarm(b *testing.B) {
	benchLimitsWarm(b, llmfake.Limits{}, 640, true, 160)
}

func BenchmarkFixedNoLimit(b *testing.B) {
	benchLimits(b, llmfake.Limits{}, 640, false)
}

// (a) at most 10 requests in flight (and a requests bucket, 10,000 a
// minute, that never runs out: its headers show the 429s are not about it).
func BenchmarkAdaptiveConcurrency10(b *testing.B) {
	benchLimits(b, llmfake.Limits{Concurrency: 10, ReqPerSec: 10000.0 / 60, ReqBurst: 10000}, 300, true)
}

func BenchmarkFixedConcurrency10(b *testing.B) {
	benchLimits(b, llmfake.Limits{Concurrency: 10, ReqPerSec: 10000.0 / 60, ReqBurst: 10000}, 300, false)
}

// (b) 300 requests per minute (5/s, a bucket of 10).
func BenchmarkAdaptiveRequests300PerMinute(b *testing.B) {
	benchLimits(b, llmfake.Limits{ReqPerSec: 5, ReqBurst: 10}, 40, true)
}

func BenchmarkFixedRequests300PerMinute(b *testing.B) {
	benchLimits(b, llmfake.Limits{ReqPerSec: 5, ReqBurst: 10}, 40, false)
}

// (c) 3,600 tokens per minute (60/s, a bucket of 60) at 15 tokens a call:
// 4 calls a second.
func BenchmarkAdaptiveTokens3600PerMinute(b *testing.B) {
	benchLimits(b, llmfake.Limits{TokPerSec: 60, TokBurst: 60}, 30, true)
}

func BenchmarkFixedTokens3600PerMinute(b *testing.B) {
	benchLimits(b, llmfake.Limits{TokPerSec: 60, TokBurst: 60}, 30, false)
}
