package pdftext

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestCIDFontWithoutToUnicode: CID fonts without a ToUnicode map read
// through their Adobe collection (Identity-H and Identity-V, the latter as
// columns from right to left) or through the cmap of their embedded
// TrueType program, as pdftotext reads them; before, all of them read as
// nothing and the page looked scanned.
func TestCIDFontWithoutToUnicode(t *testing.T) {
	// Adobe-GB1: CID 4559 is 中, CID 3795 is 文 (UniGB-UTF16-H).
	gb1 := func(enc string) string {
		return fmt.Sprintf("<< /Font << /F1 << /Type /Font /Subtype /Type0 /BaseFont /Song /Encoding /%s /DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /Song /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 5 >> /DW 1000 >>] >> >> >>", enc)
	}
	cases := []struct {
		name, content, want string
		res                 func(*pdfgen.Builder) string
	}{
		{"Adobe-GB1 Identity-H", "BT /F1 12 Tf 72 700 Td <11CF0ED3> Tj ET", "中文",
			func(*pdfgen.Builder) string { return gb1("Identity-H") }},
		{"Adobe-GB1 Identity-V columns right to left", "BT /F1 12 Tf 300 700 Td <11CF0ED3> Tj ET BT /F1 12 Tf 280 700 Td <0ED311CF> Tj ET", "中文\n文中",
			func(*pdfgen.Builder) string { return gb1("Identity-V") }},
		{"embedded TrueType cmap", "BT /F1 12 Tf 72 700 Td <000100020003> Tj ET", "Tag",
			func(b *pdfgen.Builder) string {
				ff := b.AddStream("", trueTypeWithCmap(map[rune]uint16{'T': 1, 'a': 2, 'g': 3}))
				return fmt.Sprintf("<< /Font << /F1 << /Type /Font /Subtype /Type0 /BaseFont /Sub /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Sub /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /CIDToGIDMap /Identity /FontDescriptor << /Type /FontDescriptor /FontName /Sub /Flags 4 /FontFile2 %s >> /DW 600 >>] >> >> >>", pdfgen.Ref(ff))
			}},
	}
	for _, c := range cases {
		b := &pdfgen.Builder{}
		res := c.res(b)
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

// trueTypeWithCmap builds a font program with nothing but a cmap table
// (platform 3, encoding 1, format 4, one segment per character): all the
// fallback reads.
func trueTypeWithCmap(m map[rune]uint16) []byte {
	var runes []rune
	for r := range m {
		runes = append(runes, r)
	}
	for i := range runes { // sort, small n
		for j := i + 1; j < len(runes); j++ {
			if runes[j] < runes[i] {
				runes[i], runes[j] = runes[j], runes[i]
			}
		}
	}
	seg := len(runes) + 1 // plus the 0xFFFF end segment
	var sub bytes.Buffer
	w := func(v uint16) { binary.Write(&sub, binary.BigEndian, v) }
	w(4)
	w(uint16(16 + 8*seg))
	w(0)
	w(uint16(2 * seg))
	w(0)
	w(0)
	w(0)
	for _, r := range runes {
		w(uint16(r))
	}
	w(0xFFFF)
	w(0)
	for _, r := range runes {
		w(uint16(r))
	}
	w(0xFFFF)
	for _, r := range runes {
		w(m[r] - uint16(r))
	}
	w(1)
	for range seg {
		w(0)
	}
	var cmap bytes.Buffer
	binary.Write(&cmap, binary.BigEndian, []uint16{0, 1, 3, 1})
	binary.Write(&cmap, binary.BigEndian, uint32(12))
	cmap.Write(sub.Bytes())
	var font bytes.Buffer
	binary.Write(&font, binary.BigEndian, []uint32{0x00010000})
	binary.Write(&font, binary.BigEndian, []uint16{1, 16, 0, 0})
	font.WriteString("cmap")
	binary.Write(&font, binary.BigEndian, []uint32{0, 28, uint32(cmap.Len())})
	font.Write(cmap.Bytes())
	return font.Bytes()
}
