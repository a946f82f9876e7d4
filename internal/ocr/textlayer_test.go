package ocr

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext"
	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestTextLayerPreferredOverOCR: a one-line Helvetica page is thin, so it
// is OCR'd, but its text layer is kept: OCR read "MARKaaa" as "MAR Kaaa",
// one word more, and used to replace the layer for it. A page whose
// heading is text and whose body is a scanned image still gets the OCR.
func TestTextLayerPreferredOverOCR(t *testing.T) {
	requireOCR(t)
	const line = "MARKaaa Water supply and sanitation review for rural districts"
	var b pdfgen.Builder
	c := b.AddStream("", []byte("BT /F1 12 Tf 72 700 Td ("+line+") Tj ET"))
	res, err := Extract(bg, pdfgen.OnePage(&b, pdfgen.Ref(c), pdfgen.Helvetica), pdftext.Options{}, Options{Languages: "eng"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != MethodText || res.PagesOCR != 0 || strings.TrimSpace(res.Text) != line {
		t.Fatalf("method %s, %d pages OCR'd, text %q; want the text layer", res.Method, res.PagesOCR, res.Text)
	}

	t.Run("a scanned body under a text heading is OCR'd", func(t *testing.T) {
		pdf := headedScan(t, "tender-notice.pdf", 2, "Annex B")
		res, err := Extract(bg, pdf, pdftext.Options{}, Options{Languages: "eng"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Method != MethodOCR || res.PagesOCR != 1 || wordCount(res.Text) < 100 {
			t.Fatalf("method %s, %d pages OCR'd, %d words; want the OCR", res.Method, res.PagesOCR, wordCount(res.Text))
		}
	})
}

// headedScan is a corpus page rendered at 150 dpi as a JPEG image, with a
// one-line text layer (heading) in Helvetica above it.
func headedScan(t *testing.T, src string, page int, heading string) []byte {
	t.Helper()
	scan := scanFixture(t, src, page, 150, 0, 0)
	// Take the JPEG back out of the fixture: its stream is the 4th object.
	i := bytes.Index(scan, []byte("stream\n"))
	j := bytes.LastIndex(scan[:bytes.Index(scan, []byte("5 0 obj"))], []byte("\nendstream"))
	jpg := scan[i+len("stream\n") : j]
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
	if err != nil {
		t.Fatal(err)
	}
	pw, ph := float64(cfg.Width)*72/150, float64(cfg.Height)*72/150
	var b pdfgen.Builder
	img := b.AddStream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode", cfg.Width, cfg.Height), jpg)
	content := b.AddStream("", fmt.Appendf(nil, "q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q BT /F1 10 Tf 36 %.2f Td (%s) Tj ET", pw, ph, ph-20, heading))
	pages := b.Reserve()
	pg := b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %s >> /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> /Contents %s >>",
		pdfgen.Ref(pages), pw, ph, pdfgen.Ref(img), pdfgen.Ref(content)))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 1 >>", pdfgen.Ref(pg)))
	return b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", pdfgen.Ref(pages))), "")
}

func TestOCRAddsText(t *testing.T) {
	for _, c := range []struct {
		layer, ocr int
		want       bool
	}{
		{0, 0, false}, {0, 1, true}, {0, 5, true}, // no layer: any OCR
		{9, 10, false},  // "MAR Kaaa" for "MARKaaa"
		{2, 300, true},  // a text heading over a scanned body
		{5, 14, false},  // not 10 words more
		{5, 15, true},   // twice and 10 more
		{40, 70, false}, // not twice
		{40, 80, true},
	} {
		if got := ocrAddsText(c.layer, c.ocr); got != c.want {
			t.Errorf("ocrAddsText(%d, %d) = %v, want %v", c.layer, c.ocr, got, c.want)
		}
	}
}
