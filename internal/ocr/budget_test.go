package ocr

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/pdftext"
	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// lowerBudgets sets the child budgets for one test. The memory budget is
// lowered to keep the machine's other work safe; it is still 6 times
// what pdftoppm needs for a real A4 page at 300 dpi (43 MiB).
func lowerBudgets(t *testing.T, mem int64, cpu time.Duration) {
	t.Helper()
	oldMem, oldCPU := childMemory, childCPU
	childMemory, childCPU = mem, cpu
	t.Cleanup(func() { childMemory, childCPU = oldMem, oldCPU })
}

// TestNestedSavesHitTheMemoryBudget: 500,000 nested "q" in a 10 KB PDF
// made pdftoppm take 2.7 GB. Its 9-character text layer is thin, so the
// page goes to OCR; pdftoppm now fails at its address-space budget, its
// peak resident memory stays under the budget, and the error names the
// page and the budget. Extract keeps the text layer and reports the OCR
// failure in OCRErr (the pipeline's TestOCRBudgetFailsTheDocument turns
// it into the document's error).
func TestNestedSavesHitTheMemoryBudget(t *testing.T) {
	requireOCR(t)
	const budget = 256 << 20
	lowerBudgets(t, budget, ChildCPU)
	pdf := pdfgen.NestedSaves(500_000)
	start := time.Now()
	res, err := Extract(bg, pdf, pdftext.Options{}, Options{Languages: "eng"})
	if err != nil {
		t.Fatal(err)
	}
	var be *BudgetError
	if !errors.As(res.OCRErr, &be) || !errors.Is(res.OCRErr, ErrBudget) {
		t.Fatalf("OCRErr = %v, want a BudgetError (text %q, method %s)", res.OCRErr, res.Text, res.Method)
	}
	t.Logf("%v in %v; pdftoppm peaked at %d MiB resident", be, time.Since(start).Round(time.Millisecond), be.MaxRSS>>20)
	if be.Page != 1 || be.Tool != "pdftoppm" || be.Resource != "memory" ||
		!strings.Contains(be.Error(), "OCR of page 1 exceeded its memory budget (pdftoppm over 256 MiB of address space)") {
		t.Fatalf("error %q (%+v)", be, be)
	}
	if be.MaxRSS <= 0 || be.MaxRSS > budget {
		t.Fatalf("pdftoppm's peak resident memory %d bytes, want within the %d-byte budget", be.MaxRSS, budget)
	}
	if res.Text != "MARKdq hi" || res.Method != MethodText {
		t.Fatalf("text %q method %s: the text layer should be kept", res.Text, res.Method)
	}
}

// TestFormChainHitsTheCPUBudget: 31 forms each drawing the next twice
// kept pdftoppm painting 2^30 squares until the page's 60 s timeout. With
// no text layer at all the document is a scan, so the budget error is the
// document's error. The CPU budget is lowered to 2 s to keep the test
// short; the default (30 s) stops it the same way.
func TestFormChainHitsTheCPUBudget(t *testing.T) {
	requireOCR(t)
	lowerBudgets(t, ChildMemory, 2*time.Second)
	start := time.Now()
	_, err := Extract(bg, pdfgen.FormChain(31), pdftext.Options{}, Options{Languages: "eng"})
	took := time.Since(start)
	t.Logf("%v after %v", err, took.Round(time.Millisecond))
	var be *BudgetError
	if !errors.As(err, &be) || be.Resource != "CPU" || be.Tool != "pdftoppm" ||
		!strings.Contains(err.Error(), "OCR of page 1 exceeded its CPU budget (pdftoppm over 2s of CPU time)") {
		t.Fatalf("err = %v, want the CPU budget of page 1", err)
	}
	if took > 30*time.Second {
		t.Fatalf("took %v: the CPU budget did not stop pdftoppm", took)
	}
}

// TestBudgetDetection: how a finished child is judged, without running
// one: allocation failures that tools print while still exiting 0.
func TestBudgetDetection(t *testing.T) {
	for _, msg := range []string{
		"Out of memory\n",
		"terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc\n",
		"Error in pixCreateNoInit: pixdata_malloc fail for data\nError in pixCreate: pixd not made\n",
		"tesseract: error while loading shared libraries: libicudata.so.72: failed to map segment from shared object\n",
	} {
		if o := budgetExceeded(nil, msg, ChildMemory, ChildCPU); o == nil || o.resource != "memory" {
			t.Errorf("%q: %+v, want memory", msg, o)
		}
	}
	for _, msg := range []string{"", "Estimating resolution as 300\n", "Error in pixRead: pix not read\n", "Syntax Error: Invalid object\n"} {
		if o := budgetExceeded(nil, msg, ChildMemory, ChildCPU); o != nil {
			t.Errorf("%q: %+v, want none", msg, o)
		}
	}
}
