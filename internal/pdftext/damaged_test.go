package pdftext

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestDamagedFiles: files that pdftotext still reads must read here too:
// a Flate stream whose tail is corrupt keeps the text before the damage,
// and a cross-reference table with wrong offsets (or none) is rebuilt from
// the "N 0 obj" markers in the file.
func TestDamagedFiles(t *testing.T) {
	content := "BT /F1 12 Tf 72 700 Td (Hello damaged world) Tj ET\n" + strings.Repeat("BT /F1 12 Tf 72 600 Td (filler) Tj ET\n", 200)
	good := func(stream []byte, filter string) []byte {
		b := &pdfgen.Builder{}
		return pdfgen.OnePage(b, pdfgen.Ref(b.AddStream(filter, stream)), pdfgen.Helvetica)
	}
	z := pdfgen.Zlib([]byte(content))
	corruptTail := append(append([]byte{}, z[:len(z)/2]...), bytes.Repeat([]byte{0xFF}, 64)...)
	xrefOff := regexp.MustCompile(`(?m)^\d{10} 00000 n`)
	cases := []struct {
		name string
		data []byte
	}{
		{"flate stream with a corrupt tail", good(corruptTail, "/Filter /FlateDecode")},
		{"xref offsets all wrong", xrefOff.ReplaceAll(good([]byte(content), ""), []byte("0000000003 00000 n"))},
		{"xref offsets shifted", shiftBody(good([]byte(content), ""), 7)},
		{"no xref table", bytes.Replace(good([]byte(content), ""), []byte("xref\n"), []byte("xxxx\n"), 1)},
	}
	for _, c := range cases {
		res, err := Extract(context.Background(), c.data, Options{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !strings.HasPrefix(res.Text, "Hello damaged world") {
			t.Errorf("%s: got %.60q", c.name, res.Text)
		}
	}
}

// shiftBody inserts n junk bytes after the header, so every offset in
// the xref table points n bytes short of its object.
func shiftBody(data []byte, n int) []byte {
	i := bytes.IndexByte(data, '\n') + 1
	return append(append(append([]byte{}, data[:i]...), bytes.Repeat([]byte("%"), n)...), data[i:]...)
}
