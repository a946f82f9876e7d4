package pdfgen

import (
	"bytes"
	"fmt"
	"strings"
)

// Documents that are cheap to extract text from but costly to render, for
// the OCR path (pdftoppm): not in Hostile(), whose documents go through a
// job without OCR tools being needed.

// NestedSaves is one page whose Flate-compressed content saves the
// graphics state n times, shows "MARKdq hi" in Helvetica, and restores it
// n times: with n = 500,000 a file of 2.5 KB made pdftoppm allocate 2.7 GB
// (one graphics state per q), while its text layer is 9 characters, thin
// enough to be OCR'd.
func NestedSaves(n int) []byte {
	var c bytes.Buffer
	c.WriteString(strings.Repeat("q ", n))
	c.WriteString("BT /F1 12 Tf 72 700 Td (MARKdq hi) Tj ET")
	c.WriteString(strings.Repeat(" Q", n))
	var b Builder
	content := b.AddStream("/Filter /FlateDecode", Zlib(c.Bytes()))
	return OnePage(&b, Ref(content), Helvetica)
}

// FormChain is one page drawing form X0, where each form Xi draws X(i+1)
// twice and the last fills a square: 2^(depth-1) fills from a few KB
// (depth 31 kept pdftoppm painting for the page's whole 60 s).
func FormChain(depth int) []byte {
	var b Builder
	forms := make([]int, depth)
	for i := range forms {
		forms[i] = b.Reserve()
	}
	for i, n := range forms {
		body, res := "0 0 10 10 re f", ""
		if i+1 < depth {
			body = fmt.Sprintf("/X%d Do /X%d Do", i+1, i+1)
			res = fmt.Sprintf("/Resources << /XObject << /X%d %s >> >>", i+1, Ref(forms[i+1]))
		}
		b.Set(n, fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] %s /Length %d >>\nstream\n%s\nendstream", res, len(body), body))
	}
	content := b.AddStream("", []byte("/X0 Do"))
	return OnePage(&b, Ref(content), fmt.Sprintf("<< /XObject << /X0 %s >> >>", Ref(forms[0])))
}
