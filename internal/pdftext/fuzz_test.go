package pdftext

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
	"github.com/tagstream/tagstream/internal/testenv"
)

// maxFuzzSeed keeps FuzzExtract's seeds small, so each run stays fast.
const maxFuzzSeed = 60 << 10

// contentSnippets seed FuzzLexer with the syntax the lexer must handle.
var contentSnippets = []string{
	"BT /F1 12 Tf 72 712 Td (Hello \\(World\\) \\101\\n) Tj ET",
	"BT /F2 9 Tf 1 0 0 1 50 50 Tm [(A) -120 (W) 333.5 <0041> -1000 (x)] TJ T* (y) ' 1 2 (z) \" ET",
	"q 0.5 0 0 0.5 10 10 cm /Im1 Do Q /Fm0 Do",
	"BI /W 4 /H 4 /BPC 8 /CS /G ID \x00\x01\x02EIEI EI Q",
	"/Span <</ActualText <FEFF0936093F> /MCID 3>> BDC (x) Tj EMC /P BMC EMC",
	"% comment\n[ << /A [1 2 <3>] >> ] (unterminated",
	"1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfrange <0000> <00FF> [<0041> <D835DC00>] endbfrange",
	"2 beginbfchar <01> /fi <02> <00660066> endbfchar 1 begincidrange <8140> <817e> 633 endcidrange",
}

// FuzzLexer feeds arbitrary bytes to the lexer, the CMap parser and the
// content interpreter: none may panic or loop.
func FuzzLexer(f *testing.F) {
	for _, s := range contentSnippets {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := &lexer{data: data}
		for i := 0; ; i++ {
			pos := l.pos
			k, _, op := l.next(0)
			if k == tokEOF {
				break
			}
			if k == tokOp && string(op) == "BI" {
				l.skipInlineImage()
			}
			if l.pos <= pos || i > len(data)+1 {
				t.Fatalf("lexer made no progress at %d", pos)
			}
		}
		cm := parseCMap(data)
		for s := data; len(s) > 0; {
			_, n := cm.nextCode(s, 2)
			if n <= 0 {
				t.Fatal("nextCode consumed nothing")
			}
			s = s[n:]
		}
		start := time.Now()
		runContent(t, string(data))
		if d := time.Since(start); fuzzing() && d > 5*time.Second {
			t.Fatalf("interpreting %d bytes took %v", len(data), d)
		}
	})
}

// fuzzLimits are the default budgets scaled down about 30 times: the
// same checks trip, but a mutated bomb costs milliseconds, not a second,
// so fuzzing explores instead of waiting. Real seeds stay far below them.
var fuzzLimits = Limits{
	StreamBytes: 1 << 20, PageContent: 2 << 20, DocDecode: 4 << 20,
	PageOps: 100_000, DocOps: 300_000, PageText: 128 << 10, DocText: 512 << 10,
}

// FuzzExtract runs whole extractions on mutated corpus files. Panics
// inside pdfcpu are recovered at the boundary and are acceptable; panics
// in this package are bugs and fail the test.
func FuzzExtract(f *testing.F) {
	// Seeds only: without the corpus the fuzzer still runs on the minimal PDF.
	dir, _ := testenv.CorpusDir()
	pdfs, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	for _, p := range pdfs {
		if st, err := os.Stat(p); err == nil && st.Size() <= maxFuzzSeed {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj trailer<</Root 1 0 R>>\n%%EOF"))
	// The hostile suite's small documents: mutations of a bomb or an
	// absurd CMap explore the budgets' edges.
	for _, h := range pdfgen.Hostile() {
		if d := h.Data(); len(d) <= maxFuzzSeed {
			f.Add(d)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const timeout = 2 * time.Second
		var ownPanic atomic.Value
		hook := func(stack []byte) {
			if frame := panickingFrame(stack); strings.Contains(frame, "/internal/pdftext.") {
				ownPanic.Store(string(stack))
			}
		}
		panicHook.Store(&hook)
		defer panicHook.Store(nil)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		res, err := Extract(context.Background(), data, Options{Timeout: timeout, MaxPages: 3, Limits: fuzzLimits})
		// A hang detector while fuzzing (the engine has no per-input
		// timeout); plain test runs of the seeds assert no time.
		if d := time.Since(start); fuzzing() && d > timeout+10*time.Second {
			t.Fatalf("Extract returned after %v with a %v timeout", d, timeout)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > hostileMaxAlloc {
			t.Fatalf("Extract of %d bytes allocated %d MiB", len(data), n>>20)
		}
		if p, _ := ownPanic.Load().(string); p != "" {
			t.Fatalf("panic in pdftext: %s", p)
		}
		if err == nil && (res == nil || res.PagesRead > 3) {
			t.Fatalf("bad result without error: %+v", res)
		}
	})
}

// fuzzing reports whether the test binary runs with -test.fuzz.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// panickingFrame returns the first function frame after runtime.panic in
// a goroutine stack dump: where the panic happened.
func panickingFrame(stack []byte) string {
	lines := bytes.Split(stack, []byte("\n"))
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("panic(")) {
			for _, next := range lines[i+1:] {
				if len(next) > 0 && next[0] != '\t' && !bytes.HasPrefix(next, []byte("runtime.")) {
					return string(next)
				}
			}
		}
	}
	return ""
}

func TestPanickingFrame(t *testing.T) {
	var stack []byte
	func() {
		defer func() {
			recover()
			stack = debugStack()
		}()
		var m map[string]int
		m["x"] = 1 // a panic raised in this package
	}()
	if f := panickingFrame(stack); !strings.Contains(f, "/internal/pdftext.") {
		t.Errorf("panicking frame %q not attributed to this package", f)
	}
}

func debugStack() []byte { return debug.Stack() }
