package ocr

import (
	"bytes"
	"encoding/binary"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext"
)

// TestJBIG2Scan: a bilevel scan in JBIG2 (the encoding of most office
// scanners' compact PDFs) is OCRed like the others. Debian ships no JBIG2
// encoder, so the test makes one: a JBIG2 generic region coded with MMR
// is, bit for bit, the T.6 (CCITT G4) coding of the same rows, so the G4
// fixture's data goes into JBIG2 segments unchanged and the decoder on
// the other side (poppler's, through pdftoppm) is the real one.
func TestJBIG2Scan(t *testing.T) {
	requireOCR(t)
	g4, w, h := g4Image(t, "testdata/tender-notice-p2-ccitt-g4-200dpi.pdf")
	doc := encodedImagePDF("/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode", jbig2MMR(g4, w, h), w, h, 200)
	if !bytes.Contains(doc, []byte("/JBIG2Decode")) {
		t.Fatal("fixture is not JBIG2")
	}
	ref, err := pdftext.Extract(bg, readCorpus(t, "tender-notice.pdf"), pdftext.Options{MaxPages: 2})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Extract(bg, doc, pdftext.Options{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := recall(res.Text, ref.Pages[1])
	t.Logf("JBIG2: recall %.3f, confidence %.1f, method %s", r, res.Confidence, res.Method)
	if r < 0.90 || res.Method != MethodOCR {
		t.Fatalf("recall %.3f (want >= 0.90), method %q", r, res.Method)
	}
}

var g4Dict = regexp.MustCompile(`/Columns (\d+) /K -1 /Rows (\d+) >> \] /Filter \[ /CCITTFaxDecode \][^>]*/Length (\d+) >>\nstream\n`)

// g4Image returns the G4 data of the one image in an img2pdf fixture.
func g4Image(t *testing.T, path string) (data []byte, w, h int) {
	t.Helper()
	pdf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := g4Dict.FindSubmatchIndex(pdf)
	if m == nil {
		t.Fatalf("%s: no CCITT G4 image found", path)
	}
	atoi := func(i int) int { n, _ := strconv.Atoi(string(pdf[m[2*i]:m[2*i+1]])); return n }
	w, h, n := atoi(1), atoi(2), atoi(3)
	return pdf[m[1] : m[1]+n], w, h
}

// jbig2MMR wraps T.6 data as an embedded JBIG2 stream (PDF 7.4.7: no file
// header, no end-of-page): a page information segment and an immediate
// lossless generic region with MMR on.
func jbig2MMR(t6 []byte, w, h int) []byte {
	var b bytes.Buffer
	segment := func(num uint32, typ byte, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, num)
		b.WriteByte(typ) // flags: type, 1-byte page association
		b.WriteByte(0)   // no referred-to segments
		b.WriteByte(1)   // page 1
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.Write(data)
	}
	u32 := func(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

	var page bytes.Buffer
	page.Write(u32(w))
	page.Write(u32(h))
	page.Write(u32(0)) // resolution unknown
	page.Write(u32(0))
	page.WriteByte(0)              // flags: default pixel 0 (white), OR
	page.Write([]byte{0x00, 0x00}) // no striping
	segment(0, 48, page.Bytes())

	var region bytes.Buffer
	region.Write(u32(w))
	region.Write(u32(h))
	region.Write(u32(0)) // x
	region.Write(u32(0)) // y
	region.WriteByte(0)  // combination operator OR
	region.WriteByte(1)  // generic region flags: MMR
	region.Write(t6)
	segment(1, 39, region.Bytes())
	return b.Bytes()
}
