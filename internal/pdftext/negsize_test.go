package pdftext

import (
	"context"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestNegativeFontSize: a negative font size (or horizontal scale) draws
// the text turned by 180 degrees, advancing leftwards; it must read in
// order, not reversed letter by letter, as pdftotext reads it.
func TestNegativeFontSize(t *testing.T) {
	for _, c := range []struct{ name, content string }{
		{"negative Tf", "BT /F1 -12 Tf 300 700 Td (Hello world) Tj ET"},
		{"negative Tz", "BT /F1 12 Tf -100 Tz 300 700 Td (Hello world) Tj ET"},
		{"negative Tf on a turned matrix", "BT /F1 -12 Tf -1 0 0 -1 300 700 Tm (Hello world) Tj ET"},
		{"positive Tf", "BT /F1 12 Tf 72 700 Td (Hello world) Tj ET"},
	} {
		b := &pdfgen.Builder{}
		data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(c.content))), pdfgen.Helvetica)
		res, err := Extract(context.Background(), data, Options{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if res.Text != "Hello world" {
			t.Errorf("%s: got %q, want %q", c.name, res.Text, "Hello world")
		}
	}
}
