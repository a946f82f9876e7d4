package pdftext

import (
	"context"
	"fmt"
	"sync"
)

// Memory one extraction may need at its peak, measured with the hostile
// suite (BENCHMARKS.md, "Hostile documents"). A worker pool sized by
// count alone lets eight bombs run at once; these let it be sized by
// bytes instead.
const (
	// workingSet covers the budgets: a page's decoded content, its glyphs,
	// layout and the fonts of the document, and the garbage the collector
	// lets accumulate between cycles (GOGC=100 lets the heap reach twice
	// what is live). The largest peak sampled so far is 273 MiB (a page of
	// 44 MiB decoded content while another test suite loaded the machine,
	// so the collector ran late): 320 MiB leaves headroom above it.
	workingSet = 320 << 20
	// pdfcpu parses the whole file into its object table: up to about 32
	// bytes of heap per input byte for files made of tiny objects, capped
	// through Limits.ObjectsMax at about 3 KB per object.
	parsePerByte = 32
	parseMax     = 640 << 20
)

// DocumentMemoryBudget is the most one extraction with the default
// limits needs: the estimate for a file of DefaultMaxBytes.
const DocumentMemoryBudget = workingSet + min(parsePerByte*DefaultMaxBytes, parseMax)

// MemoryEstimate returns the peak heap an extraction of a size-byte file
// may use with the default limits; a worker reserves this much from a
// MemoryGate before extracting.
func MemoryEstimate(size int64) int64 {
	return workingSet + min(parsePerByte*max(size, 0), parseMax)
}

// MemoryGate is a semaphore counted in bytes: extractions wait until the
// memory they may need is free. Waiters are served in order, so a large
// document is not starved by a stream of small ones.
type MemoryGate struct {
	mu      sync.Mutex
	total   int64
	used    int64
	waiters []*gateWaiter
}

type gateWaiter struct {
	n     int64
	ready chan struct{}
}

// NewMemoryGate returns a gate admitting up to total bytes at once.
func NewMemoryGate(total int64) *MemoryGate { return &MemoryGate{total: total} }

// Acquire waits until n bytes are free or ctx ends. A request larger than
// the gate's total is clamped to the total, so it runs alone rather than
// never.
func (g *MemoryGate) Acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 0), g.total)
	g.mu.Lock()
	if len(g.waiters) == 0 && g.used+n <= g.total {
		g.used += n
		g.mu.Unlock()
		return g.releaser(n), nil
	}
	w := &gateWaiter{n: n, ready: make(chan struct{})}
	g.waiters = append(g.waiters, w)
	g.mu.Unlock()
	select {
	case <-w.ready:
		return g.releaser(n), nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-w.ready:
			// Granted while we gave up: hand the bytes back.
			g.used -= n
			g.wake()
		default:
			for i, o := range g.waiters {
				if o == w {
					g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
					break
				}
			}
			g.wake()
		}
		return nil, fmt.Errorf("waiting for %d bytes of extraction memory: %w", n, ctx.Err())
	}
}

func (g *MemoryGate) releaser(n int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.used -= n
			g.wake()
			g.mu.Unlock()
		})
	}
}

// wake admits waiters in order while they fit; g.mu is held.
func (g *MemoryGate) wake() {
	for len(g.waiters) > 0 && g.used+g.waiters[0].n <= g.total {
		w := g.waiters[0]
		g.waiters = g.waiters[1:]
		g.used += w.n
		close(w.ready)
	}
}

// InUse reports the bytes currently reserved, for metrics.
func (g *MemoryGate) InUse() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.used
}
