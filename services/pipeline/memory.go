package pipeline

import (
	"container/list"
	"context"
	"sync"
)

// Extraction holds the whole file and what pdfcpu builds from it, so the
// worker pool is sized by memory as well as by count: each extraction
// first takes its estimated bytes from a process budget, and waits while
// the documents already being extracted use it up. Ten small documents
// run side by side; two 50 MB ones do not, whatever TAGSTREAM_WORKERS says.

// Estimator guesses the peak memory extracting a document will take. A
// smaller guess lets more documents in at once; the pdftext budgets
// still bound what one document may really use.
type Estimator interface {
	Estimate(data []byte) int64
}

// SizeEstimate is the simple estimate: the fetched size times Factor, and
// at least Floor (parser and page structures of even a tiny file).
type SizeEstimate struct {
	Factor int64
	Floor  int64
}

// DefaultEstimate follows NOTES.md: a 52 MB, 9,960-page file took 128 MB
// to read (about 2.5 times its size); 4 leaves room for decoded streams.
var DefaultEstimate = SizeEstimate{Factor: 4, Floor: 4 << 20}

// Estimate implements Estimator.
func (e SizeEstimate) Estimate(data []byte) int64 {
	return max(int64(len(data))*e.Factor, e.Floor)
}

// MemoryBudget is a byte-weighted semaphore, first come first served so a
// large document is not starved by a stream of small ones.
type MemoryBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters list.List // of *memWaiter, in arrival order
}

type memWaiter struct {
	n     int64
	ready chan struct{}
}

// NewMemoryBudget returns a budget of size bytes (at least 1).
func NewMemoryBudget(size int64) *MemoryBudget {
	return &MemoryBudget{size: max(size, 1)}
}

// Size is the budget's capacity in bytes.
func (b *MemoryBudget) Size() int64 { return b.size }

// InUse is how many bytes are taken now.
func (b *MemoryBudget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Acquire takes n bytes, waiting until they are free or ctx is done. A
// request above the whole budget takes all of it (that document runs
// alone) rather than waiting for ever. release gives the bytes back; it
// may be called more than once.
func (b *MemoryBudget) Acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 1), b.size)
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return b.releaser(n), nil
	}
	w := &memWaiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return b.releaser(n), nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // granted while giving up: hand it back
			b.mu.Unlock()
			b.release(n)
		default:
			b.waiters.Remove(elem)
			b.grant() // a waiter behind this one may fit now
			b.mu.Unlock()
		}
		return nil, ctx.Err()
	}
}

func (b *MemoryBudget) releaser(n int64) func() {
	return sync.OnceFunc(func() { b.release(n) })
}

func (b *MemoryBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant wakes waiters in order while the first one fits.
func (b *MemoryBudget) grant() {
	for {
		front := b.waiters.Front()
		if front == nil {
			return
		}
		w := front.Value.(*memWaiter)
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		b.waiters.Remove(front)
		close(w.ready)
	}
}

// LimitExtractionMemory makes every extraction first take its estimated
// bytes (e; nil: DefaultEstimate) from b. Call it before the first Tag.
func (p *Pipeline) LimitExtractionMemory(b *MemoryBudget, e Estimator) {
	if e == nil {
		e = DefaultEstimate
	}
	p.memory, p.guess = b, e
}

func (p *Pipeline) reserveMemory(ctx context.Context, data []byte) (func(), error) {
	if p.memory == nil {
		return func() {}, nil
	}
	return p.memory.Acquire(ctx, p.guess.Estimate(data))
}
