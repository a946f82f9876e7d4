package pdftext

import (
	"context"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestAccentComposition: TeX draws "ü" as a dieresis glyph placed over a
// "u"; it must read as one letter (words like "für" stay whole), in either
// drawing order, while an accent character beside a letter stays apart.
func TestAccentComposition(t *testing.T) {
	// Helvetica 12 pt: f is 3.336 wide, u 6.672, the dieresis (\250 in
	// WinAnsi) 3.996, so the dieresis centred over the u starts at 76.67.
	for _, c := range []struct{ name, content, want string }{
		{"accent first", `BT /F1 12 Tf 72 700 Td (f) Tj 4.67 0 Td (\250) Tj -1.334 0 Td (ur) Tj ET`, "für"},
		{"accent after", `BT /F1 12 Tf 72 700 Td (fu) Tj 4.67 0.4 Td (\250) Tj ET BT /F1 12 Tf 82.008 700 Td (r) Tj ET`, "für"},
		{"dotless i", `BT /F1 12 Tf 72 700 Td (l) Tj 2.67 0 Td (\264) Tj 0.17 0 Td (\220nea) Tj ET`, "línea"},
		{"accent beside a letter", "BT /F1 12 Tf 72 700 Td (`a b) Tj ET", "`a b"},
	} {
		b := &pdfgen.Builder{}
		data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(c.content))), winAnsiHelvetica)
		res, err := Extract(context.Background(), data, Options{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if res.Text != c.want {
			t.Errorf("%s: got %q, want %q", c.name, res.Text, c.want)
		}
	}
}

const winAnsiHelvetica = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Differences [144 /dotlessi] /BaseEncoding /WinAnsiEncoding >> >> >> >>"
