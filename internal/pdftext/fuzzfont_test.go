package pdftext

import (
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// FuzzFontPrograms feeds arbitrary bytes to the parsers of embedded font
// programs (CFF encodings, TrueType cmaps) and to the xref rebuilder:
// none may panic, loop or allocate beyond its bounds.
func FuzzFontPrograms(f *testing.F) {
	f.Add(cffWithEncoding())
	f.Add(trueTypeWithCmap(map[rune]uint16{'T': 1, 'a': 2, 'g': 3}))
	b := &pdfgen.Builder{}
	f.Add(pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(pdfgen.HelloContent))), pdfgen.Helvetica))
	f.Fuzz(func(t *testing.T, data []byte) {
		cffEncoding(data)
		if m := trueTypeGlyphText(data); len(m) > maxCmapChars {
			t.Fatalf("cmap inverted to %d glyphs", len(m))
		}
		if out, ok := rebuildXref(data, 1000); ok && len(out) > len(data)+20*1001+512 {
			t.Fatalf("rebuilt file grew by %d bytes", len(out)-len(data))
		}
	})
}
