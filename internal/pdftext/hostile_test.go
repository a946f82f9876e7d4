package pdftext

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// Memory bounds every hostile document must stay within (issue 10: one
// 2 KB file used to take gigabytes). TotalAlloc bounds everything the
// extraction allocated, so it bounds its peak as well; the sampled peak
// must stay under MemoryEstimate, which workers reserve; retained heap
// after a GC shows nothing is left behind (no goroutine still working,
// no cache holding the document).
const (
	hostileMaxAlloc    = 1 << 30
	hostileMaxRetained = 16 << 20
)

// hostileTimeout is far above what any hostile document needs (see
// BENCHMARKS.md); the suite asserts errors and memory, never time, so a
// slow shared machine or -race cannot turn a budget error into a timeout.
const hostileTimeout = 10 * time.Minute

type extractStats struct {
	alloc, retained, peak uint64
	goroutines            int
}

// measure runs one extraction between two memory readings. peak is the
// largest live heap seen by sampling every millisecond: a lower bound of
// the true peak, reported, not asserted.
func measure(data []byte, opts Options) (*Result, error, extractStats) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g := runtime.NumGoroutine()
	stop, sampled := make(chan struct{}), make(chan uint64)
	go samplePeak(stop, sampled)
	res, err := Extract(context.Background(), data, opts)
	close(stop)
	peak := <-sampled
	runtime.ReadMemStats(&after)
	st := extractStats{alloc: after.TotalAlloc - before.TotalAlloc, goroutines: goroutinesAbove(g)}
	if peak > before.HeapAlloc {
		st.peak = peak - before.HeapAlloc
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapAlloc > before.HeapAlloc {
		st.retained = after.HeapAlloc - before.HeapAlloc
	}
	return res, err, st
}

// goroutinesAbove counts goroutines beyond g once the sampler, which has
// sent its last value but may not have returned yet, is gone: it waits up
// to two seconds for the count to settle, so only a goroutine that really
// outlives the extraction is reported.
func goroutinesAbove(g int) int {
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > g && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	return max(0, runtime.NumGoroutine()-g)
}

// samplePeak reports the largest heap-objects size seen until stop closes.
func samplePeak(stop <-chan struct{}, out chan<- uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	var peak uint64
	for {
		metrics.Read(s)
		peak = max(peak, s[0].Value.Uint64())
		select {
		case <-stop:
			out <- peak
			return
		case <-t.C:
		}
	}
}

func TestHostileDocuments(t *testing.T) {
	for _, h := range pdfgen.Hostile() {
		t.Run(h.Name, func(t *testing.T) {
			data := h.Data()
			res, err, st := measure(data, Options{Timeout: hostileTimeout})
			t.Logf("%d bytes in, %d MiB allocated, peak heap >= %d MiB, err=%v", len(data), st.alloc>>20, st.peak>>20, err)
			checkHostile(t, h, res, err)
			if st.alloc > hostileMaxAlloc {
				t.Errorf("allocated %d MiB, bound is %d MiB", st.alloc>>20, hostileMaxAlloc>>20)
			}
			if est := MemoryEstimate(int64(len(data))); int64(st.peak) > est {
				t.Errorf("peak heap %d MiB over MemoryEstimate %d MiB", st.peak>>20, est>>20)
			}
			if st.retained > hostileMaxRetained {
				t.Errorf("%d MiB still on the heap after the extraction returned", st.retained>>20)
			}
			// The sampler has exited before measure counts goroutines.
			if st.goroutines > 0 {
				t.Errorf("%d goroutines left running", st.goroutines)
			}
		})
	}
}

// hostileWant maps pdfgen's kinds (strings: pdfgen cannot import this
// package) to this package's errors.
var hostileWant = map[string]error{pdfgen.KindBudget: ErrBudget, pdfgen.KindCorrupt: ErrCorrupt}

func checkHostile(t testing.TB, h pdfgen.Doc, res *Result, err error) {
	t.Helper()
	if h.Kind == pdfgen.KindText {
		if err != nil {
			t.Fatalf("want partial success, got %v", err)
		}
		if !strings.Contains(res.Text, h.Text) {
			t.Fatalf("text %q does not contain %q", res.Text, h.Text)
		}
		return
	}
	want, ok := hostileWant[h.Kind]
	if !ok {
		t.Fatalf("unknown kind %q", h.Kind)
	}
	if !errors.Is(err, want) {
		t.Fatalf("got (%v), want %v", err, want)
	}
	if res != nil {
		t.Errorf("a result came with the error")
	}
	var be *BudgetError
	if h.Budget != "" && (!errors.As(err, &be) || be.Budget != h.Budget) {
		t.Fatalf("got %v, want budget %q", err, h.Budget)
	}
}

// TestHostileBudgetNames: pdfgen names budgets by string; they must be
// this package's, or a renamed budget would silently fail the suite.
func TestHostileBudgetNames(t *testing.T) {
	for got, want := range map[string]string{
		pdfgen.BudgetStreamBytes: BudgetStreamBytes, pdfgen.BudgetPageContent: BudgetPageContent,
		pdfgen.BudgetDocDecode: BudgetDocDecode, pdfgen.BudgetObjects: BudgetObjects,
		pdfgen.BudgetPageOps: BudgetPageOps, pdfgen.BudgetDocOps: BudgetDocOps,
		pdfgen.BudgetPageText: BudgetPageText, pdfgen.BudgetFilters: BudgetFilters,
	} {
		if got != want {
			t.Errorf("pdfgen budget %q, pdftext %q", got, want)
		}
	}
}

// TestTimeoutStopsWork proves a deadline stops the interpreter itself:
// the call returns ErrTimeout and no goroutine is left running it.
func TestTimeoutStopsWork(t *testing.T) {
	data := pdfgen.EndlessContent()
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	g := runtime.NumGoroutine()
	// Limits far above the document so only the deadline can stop it.
	opts := Options{Timeout: hostileTimeout, Limits: Limits{PageOps: 1 << 30, DocOps: 1 << 30, PageContent: 1 << 30}}
	_, err := Extract(done, data, opts)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("cancelled context: got %v, want ErrTimeout", err)
	}
	if n := runtime.NumGoroutine() - g; n > 0 {
		t.Errorf("%d goroutines left running", n)
	}
	// A context cancelled while the interpreter runs: the interpreter
	// notices at its next check and stops, long before the end.
	x := &extractor{lim: opts.Limits.withDefaults(), active: map[int]bool{}}
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x.ctx = &cancelAfter{Context: cctx, cancel: cancel, after: 3}
	in := x.newInterp(&pageOut{}, nil, gstate{ctm: identity, hscale: 1}, 0)
	if err := in.run(bytes.Repeat([]byte("Q\n"), 1_000_000)); !errors.Is(err, context.Canceled) {
		t.Fatalf("interpreter: got %v, want context.Canceled", err)
	}
	if x.ops > 3*checkEvery {
		t.Errorf("interpreter ran %d operators, cancelled after %d", x.ops, 3*checkEvery)
	}
}

// cancelAfter cancels itself at the after-th check of Err, standing in
// for a deadline that passes in the middle of a page.
type cancelAfter struct {
	context.Context
	cancel       func()
	calls, after int
}

func (c *cancelAfter) Err() error {
	if c.calls++; c.calls >= c.after {
		c.cancel()
	}
	return c.Context.Err()
}

// TestObjectBudgetKeepsRealFiles: the object budget relative to size
// must not refuse real documents (they spend 35-320 bytes per object).
func TestObjectBudgetKeepsRealFiles(t *testing.T) {
	lim := DefaultLimits
	for _, size := range []int{800, 100 << 10, 5 << 20} {
		if got, min := lim.maxObjects(size), size/32; got < min {
			t.Errorf("%d bytes: %d objects allowed, real files can have %d", size, got, min)
		}
	}
	if lim.maxObjects(64<<10) > 20_000 || lim.maxObjects(1<<30) > lim.ObjectsMax {
		t.Errorf("a 64 KB file may declare %d objects", lim.maxObjects(64<<10))
	}
}

// BenchmarkHostile reports time and memory per hostile document; the
// numbers are in BENCHMARKS.md.
func BenchmarkHostile(b *testing.B) {
	for _, h := range pdfgen.Hostile() {
		b.Run(h.Name, func(b *testing.B) {
			data := h.Data()
			b.ReportAllocs()
			b.ResetTimer()
			var peak, heap uint64
			for i := 0; i < b.N; i++ {
				res, err, st := measure(data, Options{Timeout: hostileTimeout})
				checkHostile(b, h, res, err)
				peak = max(peak, st.alloc)
				heap = max(heap, st.peak)
			}
			b.ReportMetric(float64(peak)/(1<<20), "MiB-alloc")
			b.ReportMetric(float64(heap)/(1<<20), "MiB-peak-heap")
			b.ReportMetric(float64(len(data))/1024, "KiB-in")
		})
	}
}
