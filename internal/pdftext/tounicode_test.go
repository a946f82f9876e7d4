package pdftext

import (
	"context"
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestBrokenToUnicode: a ToUnicode map that is garbage, or maps every
// code to U+0000 or U+FFFD, must not hide a good encoding (a simple font's
// WinAnsi, a CID font's embedded TrueType cmap); pdftotext reads these
// files, and before they read as "OCR needed".
func TestBrokenToUnicode(t *testing.T) {
	zeros := "/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <00> <FF> endcodespacerange 4 beginbfchar <48> <FFFD> <65> <0000> <6C> <0000> <6F> <0000> endbfchar endcmap end end"
	for _, c := range []struct{ name, tounicode, content, want string }{
		{"garbage map, simple font", "\x00\x01 this is not a CMap ]]>>", "BT /F1 12 Tf 72 700 Td (Hello) Tj ET", "Hello"},
		{"map to U+0000, simple font", zeros, "BT /F1 12 Tf 72 700 Td (Hello) Tj ET", "Hello"},
		{"garbage map, CID TrueType", "garbage", "BT /F2 12 Tf 72 700 Td <000100020003> Tj ET", "Tag"},
	} {
		b := &pdfgen.Builder{}
		tu := pdfgen.Ref(b.AddStream("", []byte(c.tounicode)))
		ff := pdfgen.Ref(b.AddStream("", trueTypeWithCmap(map[rune]uint16{'T': 1, 'a': 2, 'g': 3})))
		res := fmt.Sprintf("<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /ToUnicode %s >> "+
			"/F2 << /Type /Font /Subtype /Type0 /BaseFont /Sub /Encoding /Identity-H /ToUnicode %s /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Sub /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor << /Type /FontDescriptor /FontName /Sub /Flags 4 /FontFile2 %s >> >>] >> >> >>", tu, tu, ff)
		data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(c.content))), res)
		got, err := Extract(context.Background(), data, Options{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.Text != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got.Text, c.want)
		}
	}
}
