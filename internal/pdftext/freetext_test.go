package pdftext

import (
	"context"
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestFreeTextWithoutAppearance: a FreeText annotation without an
// appearance stream is shown from its Contents (pdftotext draws it so);
// before, a page holding only such a note read as "OCR needed".
func TestFreeTextWithoutAppearance(t *testing.T) {
	b := &pdfgen.Builder{}
	annot := b.Add(`<< /Type /Annot /Subtype /FreeText /Rect [200 300 400 500] /DA (0 1 0 rg /Helv 12 Tf) /Contents (Water supply notice\nline two) >>`)
	pages := b.Reserve()
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Annots [%s] /Contents %s >>", pdfgen.Ref(pages), pdfgen.Ref(annot), pdfgen.Ref(b.AddStream("", nil))))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 1 >>", pdfgen.Ref(page)))
	data := b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", pdfgen.Ref(pages))), "")
	res, err := Extract(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Water supply notice\nline two"; res.Text != want {
		t.Errorf("got %q, want %q", res.Text, want)
	}
}

// TestObjectBudgetIgnoresEmbeddedFileSize: /Size inside an embedded
// file's Params is a byte count, not the trailer's object count; a small
// file with a large attachment size must not be refused as declaring too
// many objects (pdfcpu's AnnotationDemo.pdf was).
func TestObjectBudgetIgnoresEmbeddedFileSize(t *testing.T) {
	b := &pdfgen.Builder{}
	b.AddStream("/Type /EmbeddedFile /Params << /Size 99000000 >>", []byte("attachment"))
	data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(pdfgen.HelloContent))), pdfgen.Helvetica)
	if got := declaredSize(data); got > 10 {
		t.Errorf("declaredSize = %d, want the trailer's /Size", got)
	}
	res, err := Extract(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Hello hostile world" {
		t.Errorf("got %q", res.Text)
	}
}
