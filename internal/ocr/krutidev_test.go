package ocr

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext"
)

// krutidevLayer is Hindi as a Krutidev font stores it: Latin letters that
// only that font draws as Devanagari ("Hkkjr ljdkj" is भारत सरकार).
const krutidevLayer = "Hkkjr ljdkj f'k{kk ea=ky; ubZ fnYyh dk;kZy; Kkiu fo\"k; iz/kkuea=h iks\"k.k 'kfDr fuekZ.k ;kstuk ds varxZr " +
	"e/;kg~u Hkkstu dh xq.koÙkk dh fuxjkuh lHkh jkT; ljdkjksa dks lwfpr fd;k tkrk gS fd fo|ky;ksa esa e/;kg~u Hkkstu ds fy, " +
	"jkT; ljdkj vkSj foHkkx ds lfpo fu;fer :i ls fujh{k.k djsaxs vkSj fjiksVZ Hkstsaxs"

// TestLegacyFontLayerIsOCRed: a Hindi scan whose text layer is Krutidev
// gibberish (invisible text over the page image, as "searchable" scans of
// such documents carry) is OCRed, and the OCR text replaces the layer:
// the result reads as the digital original, not as "Hkkjr ljdkj".
func TestLegacyFontLayerIsOCRed(t *testing.T) {
	requireOCR(t)
	// The scan's first page is blank; its second carries the circular.
	doc := withTextLayer(t, readCorpus(t, "circular-hindi-scan-200dpi.pdf"), krutidevLayer, 2)
	layer, err := pdftext.Extract(bg, doc, pdftext.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(layer.Pages) != 2 || !bytes.Contains([]byte(layer.Pages[1]), []byte("Hkkjr ljdkj")) || !legacyText(layer.Pages[1]) {
		t.Fatalf("the fixture's text layer is not Krutidev gibberish: %.80q", layer.Text)
	}
	res, err := Extract(bg, doc, pdftext.Options{}, Options{Languages: "hin+eng"})
	if err != nil {
		t.Fatal(err)
	}
	r := recall(res.Text, string(readCorpus(t, "circular-hindi-scan-200dpi.reference.txt")))
	t.Logf("method %s, confidence %.1f, recall %.3f", res.Method, res.Confidence, r)
	if res.Method != MethodOCR || bytes.Contains([]byte(res.Text), []byte("Hkkjr")) || r < 0.90 {
		t.Fatalf("method %q, recall %.3f (want OCR text, recall >= 0.90): %.120q", res.Method, r, res.Text)
	}
}

var pageObj = regexp.MustCompile(`\n(\d+) 0 obj\n<< /Contents \d+ 0 R /MediaBox \[ ([0-9. ]+) \] /Parent (\d+) 0 R /Resources << /XObject << /Im0 (\d+) 0 R >> >> /Type /Page >>`)
var catalogObj = regexp.MustCompile(`\n(\d+) 0 obj\n<< /Pages \d+ 0 R /Type /Catalog >>`)
var lastStartXref = regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n?$`)

// withTextLayer appends an incremental update to an img2pdf scan: its
// page number page gets invisible text (render mode 3) in Helvetica over
// its image.
func withTextLayer(t *testing.T, pdf []byte, text string, page int) []byte {
	t.Helper()
	pages := pageObj.FindAllSubmatch(pdf, -1) // in page order: img2pdf writes them so
	root := catalogObj.FindSubmatch(pdf)
	prev := lastStartXref.FindSubmatch(pdf)
	if len(pages) < page || root == nil || prev == nil {
		t.Fatal("not the img2pdf layout this fixture expects")
	}
	var b bytes.Buffer
	b.Write(pdf)
	offsets := map[int]int{}
	next := 0
	for _, m := range pages { // new objects after the highest number in use
		n, _ := strconv.Atoi(string(m[4]))
		next = max(next, n+1)
	}
	for _, m := range [][]byte{root[1]} {
		n, _ := strconv.Atoi(string(m))
		next = max(next, n+1)
	}
	next += 10
	font := next
	offsets[font] = b.Len()
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n", font)
	escaped := regexp.MustCompile(`([()\\])`).ReplaceAllString(text, `\$1`)
	for i, m := range pages {
		if i != page-1 {
			continue
		}
		var w, h float64
		fmt.Sscanf(string(m[2]), "0 0 %g %g", &w, &h)
		content := fmt.Sprintf("q %g 0 0 %g 0 0 cm /Im0 Do Q\nBT 3 Tr /F1 9 Tf 36 %g Td (%s) Tj ET", w, h, h-60, escaped)
		c := next + 1 + i
		offsets[c] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", c, len(content), content)
		p, _ := strconv.Atoi(string(m[1]))
		offsets[p] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<< /Contents %d 0 R /MediaBox [ %s ] /Parent %s 0 R /Resources << /XObject << /Im0 %s 0 R >> /Font << /F1 %d 0 R >> >> /Type /Page >>\nendobj\n",
			p, c, m[2], m[3], m[4], font)
	}
	xref := b.Len()
	b.WriteString("xref\n")
	size := 0
	for n, off := range offsets {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", n, off)
		size = max(size, n+1)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %s 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n", size, root[1], prev[1], xref)
	return b.Bytes()
}
