package ocr

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/pdftext"
)

// TestScansRecall: the corpus's 200-dpi scans of two circulars read back
// with word recall >= 0.90 against the digital original's text.
func TestScansRecall(t *testing.T) {
	requireOCR(t)
	for _, name := range []string{"circular-water-scan-200dpi", "circular-hindi-scan-200dpi"} {
		t.Run(name, func(t *testing.T) {
			res, err := Extract(bg, readCorpus(t, name+".pdf"), pdftext.Options{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := recall(res.Text, string(readCorpus(t, name+".reference.txt")))
			t.Logf("recall %.3f, method %s, confidence %.1f, %d of %d pages OCR'd", r, res.Method, res.Confidence, res.PagesOCR, res.PagesRead)
			if r < 0.90 {
				t.Errorf("word recall %.3f < 0.90; text:\n%s", r, res.Text)
			}
			if res.Method != MethodOCR || res.Confidence < MinConfidence {
				t.Errorf("method %q confidence %.1f, want ocr and >= %v", res.Method, res.Confidence, MinConfidence)
			}
		})
	}
}

// TestOwnFixtures: a page of text PDFs of the corpus, rendered at 150 dpi
// (two also skewed and speckled) and wrapped as
// image-only JPEG PDFs, read back against the text layer of the original.
func TestOwnFixtures(t *testing.T) {
	requireOCR(t)
	cases := []struct {
		src        string
		page, dpi  int
		deg, noise float64
		want       float64
	}{
		{"tender-notice.pdf", 2, 150, 0, 0, 0.90},
		{"texlive-lppl.pdf", 1, 150, 0, 0, 0.90},
		{"circular-hindi.pdf", 2, 200, 1.5, 0.02, 0.90},
		{"circular-water.pdf", 2, 150, 1.0, 0.005, 0.90},
	}
	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			ref, err := pdftext.Extract(bg, readCorpus(t, c.src), pdftext.Options{MaxPages: c.page})
			if err != nil {
				t.Fatal(err)
			}
			pdf := scanFixture(t, c.src, c.page, c.dpi, c.deg, c.noise)
			res, err := Extract(bg, pdf, pdftext.Options{MaxPages: 1}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := recall(res.Text, ref.Pages[c.page-1])
			t.Logf("page %d, %d dpi, skew %.1f, noise %.2f: recall %.3f, confidence %.1f", c.page, c.dpi, c.deg, c.noise, r, res.Confidence)
			if r < c.want {
				t.Errorf("recall %.3f < %.2f", r, c.want)
			}
		})
	}
}

func TestModes(t *testing.T) {
	requireOCR(t)
	scan := readCorpus(t, "circular-water-scan-200dpi.pdf")
	digital := readCorpus(t, "circular-water.pdf")
	t.Run("off keeps scans failing", func(t *testing.T) {
		_, err := Extract(bg, scan, pdftext.Options{}, Options{Mode: ModeOff})
		if !errors.Is(err, pdftext.ErrScanned) {
			t.Fatalf("err = %v, want ErrScanned", err)
		}
	})
	t.Run("auto leaves a good text layer alone", func(t *testing.T) {
		res, err := Extract(bg, digital, pdftext.Options{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Method != MethodText || res.PagesOCR != 0 || res.Confidence != 0 {
			t.Fatalf("method %q, %d pages OCR'd, confidence %v", res.Method, res.PagesOCR, res.Confidence)
		}
	})
	t.Run("force OCRs a text PDF", func(t *testing.T) {
		res, err := Extract(bg, digital, pdftext.Options{MaxPages: 2}, Options{Mode: ModeForce})
		if err != nil {
			t.Fatal(err)
		}
		// OCR replaces a text layer only when it reads far more (ocrAddsText).
		if res.Method == MethodText {
			if res.PagesOCR != 0 {
				t.Fatalf("method text with %d OCR pages", res.PagesOCR)
			}
		} else if res.Confidence < MinConfidence {
			t.Fatalf("method %q with confidence %v", res.Method, res.Confidence)
		}
		if !strings.Contains(strings.ToLower(res.Text), "water") {
			t.Fatalf("text lost: %q", res.Text)
		}
	})
}

func TestCancelAndTimeout(t *testing.T) {
	requireOCR(t)
	scan := readCorpus(t, "circular-water-scan-200dpi.pdf")
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := Extract(ctx, scan, pdftext.Options{}, Options{}); err == nil {
		t.Fatal("cancelled context: no error")
	}
	// A page timeout far too short for any page kills the tools.
	_, err := Extract(bg, scan, pdftext.Options{}, Options{PageTimeout: time.Millisecond})
	if !errors.Is(err, ErrPageTimeout) {
		t.Fatalf("err = %v, want ErrPageTimeout", err)
	}
}

// TestWithoutTesseract: with the tools off PATH a scan fails with a
// message that says what to install, and Available says so too.
func TestWithoutTesseract(t *testing.T) {
	scan := readCorpus(t, "circular-water-scan-200dpi.pdf")
	t.Setenv("PATH", t.TempDir())
	if err := Available(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Available() = %v", err)
	}
	_, err := Extract(bg, scan, pdftext.Options{}, Options{})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, pdftext.ErrScanned) || !strings.Contains(err.Error(), "tesseract-ocr") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownLanguage(t *testing.T) {
	requireOCR(t)
	_, err := Extract(bg, readCorpus(t, "circular-water-scan-200dpi.pdf"), pdftext.Options{MaxPages: 1}, Options{Languages: "zzz"})
	if err == nil || !strings.Contains(err.Error(), "zzz") {
		t.Fatalf("err = %v", err)
	}
}

func TestTriggers(t *testing.T) {
	english := strings.Repeat("The Ministry of Jal Shakti issues guidelines on water quality monitoring for every district. ", 4)
	kruti := strings.Repeat("Hkkjr ljdkj f'k{kk ea=ky; ubZ fnYyh dk;kZy; Kkiu fo\"k; iz/kkuea=h iks\"k.k ';kfDr fuekZ.k ;kstuk ds varxZr e/;kà Hkkstu dh xq.koÙkk dh fuxjkuh A ", 3)
	latin1 := strings.Repeat("ÃÂ¢Ã© Ã¨Ã Â¤ Ã ÂÂ¥Ã¢Â€Â ÃÂ¯Ã¨Ã© ", 10)
	cases := []struct {
		name string
		text string
		want bool
	}{
		{"english page", english, false},
		{"empty page", "", true},
		{"short page", "Page 3 of 7. Office memorandum.", true},
		{"krutidev", kruti, true},
		{"latin-1 gibberish", latin1, true},
	}
	for _, c := range cases {
		if got := NeedsOCR(c.text); got != c.want {
			t.Errorf("%s: NeedsOCR = %v, want %v", c.name, got, c.want)
		}
	}
	hindi, err := os.ReadFile("../../../shared/corpus/circular-hindi.pdftotext.txt")
	if err == nil && legacyText(string(hindi)) {
		t.Error("Unicode Hindi text taken for a legacy font")
	}
}

func TestParseModeAndLanguages(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeAuto, "AUTO": ModeAuto, "off": ModeOff, " force ": ModeForce} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseMode("always"); err == nil {
		t.Error("ParseMode(always) accepted")
	}
	for _, ok := range []string{"eng", "eng+hin", "chi_sim+eng", "hin+tam+tel+ben"} {
		if err := CheckLanguages(ok); err != nil {
			t.Errorf("CheckLanguages(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "eng+", "+eng", "eng hin", "../x", "ENG", "eng;rm -rf", strings.Repeat("eng+", 12) + "eng"} {
		if CheckLanguages(bad) == nil {
			t.Errorf("CheckLanguages(%q) accepted", bad)
		}
	}
}

func TestParseTSV(t *testing.T) {
	tsv := "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n" +
		"1\t1\t0\t0\t0\t0\t0\t0\t10\t10\t-1\t\n" +
		"5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tWater\n" +
		"5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\tquality\n" +
		"5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\tmonitoring\n" +
		"5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t60\tDelhi\n" +
		"5\t1\t2\t1\t1\t2\t0\t0\t1\t1\t95\t \n"
	p := parseTSV([]byte(tsv))
	if p.Text != "Water quality\nmonitoring\n\nDelhi" || p.Words != 4 || p.Confidence != 75 {
		t.Fatalf("got %+v", p)
	}
}

func TestThinDocument(t *testing.T) {
	page := strings.Repeat("Guidelines for water quality monitoring under the mission. ", 6)
	cases := []struct {
		name  string
		pages []string
		want  bool
	}{
		{"blank first page of a text document", []string{"", page, page}, false},
		{"one short page", []string{"Notice: office closed on Friday."}, true},
		{"mostly blank", []string{"", "", "Page 3"}, true},
		{"all text", []string{page, page}, false},
	}
	for _, c := range cases {
		if got := thinDocument(c.pages); got != c.want {
			t.Errorf("%s: thinDocument = %v, want %v", c.name, got, c.want)
		}
	}
}
