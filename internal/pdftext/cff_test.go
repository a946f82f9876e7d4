package pdftext

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestCFFBuiltinEncoding: a bare CFF font (FontFile3 /Type1C) without an
// Encoding entry reads through the encoding inside the font program, not
// StandardEncoding; csr10 of the Czech vlna manual puts "č" (a glyph name
// from the font's own strings) and "á" (a standard string) at codes where
// StandardEncoding has "ł" and "Æ".
func TestCFFBuiltinEncoding(t *testing.T) {
	b := &pdfgen.Builder{}
	ff := b.AddStream("/Subtype /Type1C", cffWithEncoding())
	font := fmt.Sprintf("<< /Type /Font /Subtype /Type1 /BaseFont /CSR /FirstChar 97 /LastChar 232 /Widths [500] /FontDescriptor << /Type /FontDescriptor /FontName /CSR /Flags 4 /FontFile3 %s >> >>", pdfgen.Ref(ff))
	data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(`BT /F1 12 Tf 72 700 Td (\350a\341) Tj ET`))), "<< /Font << /F1 "+font+" >> >>")
	res, err := Extract(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "čaá"; res.Text != want {
		t.Errorf("got %q, want %q", res.Text, want)
	}
}

// cffWithEncoding builds a CFF font with glyphs .notdef, a (SID 66),
// aacute (SID 200) and ccaron (a custom string), encoded at 0x61, 0xE1
// and 0xE8.
func cffWithEncoding() []byte {
	index := func(items ...[]byte) []byte {
		out := binary.BigEndian.AppendUint16(nil, uint16(len(items)))
		if len(items) == 0 {
			return out
		}
		out = append(out, 1)
		off := 1
		out = append(out, byte(off))
		for _, it := range items {
			off += len(it)
			out = append(out, byte(off))
		}
		for _, it := range items {
			out = append(out, it...)
		}
		return out
	}
	num := func(v int, op byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{29}, uint32(v)), op)
	}
	header := []byte{1, 0, 4, 1}
	names := index([]byte("F"))
	strs := index([]byte("ccaron"))
	gsubrs := index()
	topLen := len(index(make([]byte, 18)))
	charset := 4 + len(names) + topLen + len(strs) + len(gsubrs)
	cs := []byte{0, 0, 66, 0, 200, 1, 135} // format 0: SIDs 66, 200, 391
	encOff := charset + len(cs)
	enc := []byte{0, 3, 0x61, 0xE1, 0xE8}
	chars := encOff + len(enc)
	top := append(append(num(charset, 15), num(encOff, 16)...), num(chars, 17)...)
	out := append(append(append(append(header, names...), index(top)...), strs...), gsubrs...)
	out = append(append(out, cs...), enc...)
	return append(out, index([]byte{14}, []byte{14}, []byte{14}, []byte{14})...)
}
