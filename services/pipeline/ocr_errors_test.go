package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/pdftext"
	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
	"github.com/tagstream/tagstream/internal/testenv"
)

// whitePagePDF is one blank page scanned: a w x h all-white grey image
// at 100 dpi, Flate-compressed.
func whitePagePDF(w, h int) []byte {
	var b pdfgen.Builder
	img := b.AddStream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", w, h),
		pdfgen.Zlib(bytes.Repeat([]byte{255}, w*h)))
	pw, ph := float64(w)*72/100, float64(h)*72/100
	content := b.AddStream("", fmt.Appendf(nil, "q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q", pw, ph))
	pages := b.Reserve()
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %s >> >> /Contents %s >>",
		pdfgen.Ref(pages), pw, ph, pdfgen.Ref(img), pdfgen.Ref(content)))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 1 >>", pdfgen.Ref(page)))
	return b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", pdfgen.Ref(pages))), "")
}

func tagProbe(t *testing.T, pdf []byte, ocrMode string) *Failure {
	t.Helper()
	return tagProbePages(t, pdf, ocrMode, 0)
}

func tagProbePages(t *testing.T, pdf []byte, ocrMode string, pages int) *Failure {
	t.Helper()
	p := New(fetch.Config{}, llm.Config{}, pdftext.Options{})
	in := TagInput{JobID: "job-1", Attempt: 1, Owner: "u1", Probe: &Probe{data: pdf},
		Document: events.Document{FilePath: "doc.pdf", SourceType: fetch.TypeURL},
		Config:   events.JobConfig{Model: KeywordsModel, NumTags: 5, OCR: ocrMode, OCRLanguages: "eng", NumPages: pages}}
	_, err := p.Tag(context.Background(), in)
	f := AsFailure(err)
	if f == nil {
		t.Fatalf("Tag: %v, want a failure", err)
	}
	return f
}

// TestScannedFailureSaysWhatHappened: a scanned page that fails says
// whether OCR was off, ran and found no words, or is not installed; it
// always said "job config ocr is off", even after OCR had read the page.
func TestScannedFailureSaysWhatHappened(t *testing.T) {
	blank := whitePagePDF(850, 1100)
	t.Run("ocr off", func(t *testing.T) {
		f := tagProbe(t, blank, "off")
		if f.Code != "scanned" || !strings.Contains(f.Reason, "no extractable text") || !strings.Contains(f.Reason, "job config ocr is off") {
			t.Fatalf("failure %s: %s", f.Code, f.Reason)
		}
	})
	t.Run("ocr found no words", func(t *testing.T) {
		testenv.RequireTool(t, "tesseract")
		testenv.RequireTool(t, "pdftoppm")
		f := tagProbe(t, blank, "auto")
		if f.Code != "scanned" || !strings.Contains(f.Reason, "OCR ran and found no words on the 1 page read") || strings.Contains(f.Reason, "ocr is off") {
			t.Fatalf("failure %s: %s", f.Code, f.Reason)
		}
	})
	t.Run("blank first page of two, num_pages 1", func(t *testing.T) {
		// circular-water.pdf (LibreOffice) begins with an empty page.
		testenv.RequireTool(t, "tesseract")
		testenv.RequireTool(t, "pdftoppm")
		pdf, err := os.ReadFile(testenv.CorpusFile(t, "circular-water.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		f := tagProbePages(t, pdf, "auto", 1)
		if f.Code != "scanned" || !strings.Contains(f.Reason, "the document has 2 pages and num_pages let only the first 1 be read") {
			t.Fatalf("failure %s: %s", f.Code, f.Reason)
		}
	})
	t.Run("ocr unavailable", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		f := tagProbe(t, blank, "auto")
		if f.Code != "scanned" || !strings.Contains(f.Reason, "install tesseract-ocr") || strings.Contains(f.Reason, "ocr is off") {
			t.Fatalf("failure %s: %s", f.Code, f.Reason)
		}
	})
}

// TestOCRBudgetFailsTheDocument: when OCR of a page runs out of its
// budget, the document fails with code ocr_budget naming the page and the
// budget, not "insufficient text" (the thin text layer kept) or a bare
// tool error. A stand-in pdftoppm reports the allocation failure the real
// one prints; internal/ocr's TestNestedSavesHitTheMemoryBudget runs the
// real one into its budget.
func TestOCRBudgetFailsTheDocument(t *testing.T) {
	tess := testenv.RequireTool(t, "tesseract")
	dir := t.TempDir()
	if err := os.Symlink(tess, filepath.Join(dir, "tesseract")); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho 'Out of memory' >&2\nexit 0\n"
	if err := os.WriteFile(filepath.Join(dir, "pdftoppm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":/usr/bin:/bin")
	for name, pdf := range map[string][]byte{"thin text layer": pdfgen.NestedSaves(1000), "scan": whitePagePDF(85, 110)} {
		t.Run(name, func(t *testing.T) {
			f := tagProbe(t, pdf, "auto")
			if f.Code != "ocr_budget" || !strings.Contains(f.Reason, "OCR of page 1 exceeded its memory budget (pdftoppm over 1 GiB of address space)") {
				t.Fatalf("failure %s: %s", f.Code, f.Reason)
			}
			t.Logf("%s: %s", f.Code, f.Reason)
		})
	}
}
