package ocr

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tagstream/tagstream/internal/testenv"
)

// BenchmarkOCRPage measures one page, rendering and recognition, at the
// production settings (300 dpi, gray, --psm 3 --oem 1), per language set.
//
//	go test -run '^$' -bench OCRPage -benchtime 3x ./internal/ocr/
func BenchmarkOCRPage(b *testing.B) {
	requireOCR(b)
	cases := []struct{ name, file, langs string }{
		{"english-200dpi-scan/eng", "circular-water-scan-200dpi.pdf", "eng"},
		{"english-200dpi-scan/eng+hin", "circular-water-scan-200dpi.pdf", "eng+hin"},
		{"hindi-200dpi-scan/hin", "circular-hindi-scan-200dpi.pdf", "hin"},
		{"hindi-200dpi-scan/eng+hin", "circular-hindi-scan-200dpi.pdf", "eng+hin"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(testenv.Corpus(b), c.file)
			if _, err := os.Stat(path); err != nil {
				b.Fatal(err)
			}
			var conf float64
			for b.Loop() {
				p, err := OCRPage(bg, path, 2, c.langs, DefaultDPI, DefaultPageTimeout)
				if err != nil {
					b.Fatal(err)
				}
				conf = p.Confidence
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/page")
			b.ReportMetric(conf, "confidence")
		})
	}
}
