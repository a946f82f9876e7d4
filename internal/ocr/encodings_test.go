package ocr

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext"
)

var fixtureName = regexp.MustCompile(`^(.+)-p(\d+)-`)

// TestScanEncodings: image-only PDFs in CCITT G4 (fax) and Flate, made by
// testdata/make-fixtures.sh from corpus originals, OCR with word recall
// >= 0.90 against the original page's text layer.
func TestScanEncodings(t *testing.T) {
	requireOCR(t)
	files, _ := filepath.Glob("testdata/*.pdf")
	if len(files) < 3 {
		t.Fatalf("fixtures missing: %v (run testdata/make-fixtures.sh)", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			m := fixtureName.FindStringSubmatch(filepath.Base(f))
			page, _ := strconv.Atoi(m[2])
			ref, err := pdftext.Extract(bg, readCorpus(t, m[1]+".pdf"), pdftext.Options{MaxPages: page})
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Extract(bg, data, pdftext.Options{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := recall(res.Text, ref.Pages[page-1])
			t.Logf("recall %.3f, confidence %.1f, method %s", r, res.Confidence, res.Method)
			if r < 0.90 || res.Method != MethodOCR {
				t.Errorf("recall %.3f (want >= 0.90), method %q", r, res.Method)
			}
		})
	}
}
