package pdftext

import (
	"context"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestCharSpacingCancelledByKerning: pdfTeX sometimes sets a character
// spacing of a whole em and cancels it with TJ kerning after each glyph.
// Word gaps are measured from each glyph's own width, without the
// spacing (as pdftotext does), so the words stay apart.
func TestCharSpacingCancelledByKerning(t *testing.T) {
	content := "BT /F1 1 Tf 10 0 0 10 72 700 Tm 1 Tc [(G)1000(o)1000(e)1000(s)750(n)1000(o)1000(w)] TJ ET"
	b := &pdfgen.Builder{}
	data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(content))), pdfgen.Helvetica)
	res, err := Extract(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Goes now"; res.Text != want {
		t.Errorf("got %q, want %q", res.Text, want)
	}
}
