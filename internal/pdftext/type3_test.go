package pdftext

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestType3BitmapFont: dvips draws TeX's bitmap fonts as Type 3 fonts with
// FontMatrix [0.01 0 0 0.01 0 0] and glyph names such as /a72 (the
// character's number). The names must read as those characters, and the
// font's size must be judged from its glyph widths, not as ten times the
// nominal size, or the word gaps vanish and words run together.
func TestType3BitmapFont(t *testing.T) {
	b := &pdfgen.Builder{}
	proc := b.AddStream("", []byte("60 0 d0"))
	procs := ""
	for _, n := range []string{"a72", "a105", "a231", "a227", "a111"} {
		procs += fmt.Sprintf("/%s %s ", n, pdfgen.Ref(proc))
	}
	// Codes 72 H, 105 i, 111 o as in ASCII; 231 ç and 227 ã as in T1/Latin-1.
	widths := make([]string, 231-72+1)
	for i := range widths {
		widths[i] = "0"
	}
	for _, c := range []int{72, 105, 111, 227, 231} {
		widths[c-72] = "60"
	}
	font := fmt.Sprintf("<< /Type /Font /Subtype /Type3 /FontMatrix [0.01 0 0 0.01 0 0] /FontBBox [0 0 60 70] /FirstChar 72 /LastChar 231 /Widths [%s] /Encoding << /Type /Encoding /Differences [72 /a72 105 /a105 111 /a111 227 /a227 231 /a231] >> /CharProcs << %s>> /Resources << >> >>", strings.Join(widths, " "), procs)
	// Each glyph is 7.2 wide at 12 pt; the words are 4 pt apart, a plain
	// word space for a font that looks about 14 pt tall.
	content := `BT /F1 12 Tf 72 700 Td (Hi) Tj 18.4 0 Td (\347\343o) Tj ET`
	data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(content))), "<< /Font << /F1 "+font+" >> >>")
	res, err := Extract(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hi ção"; res.Text != want {
		t.Errorf("got %q, want %q", res.Text, want)
	}
}
