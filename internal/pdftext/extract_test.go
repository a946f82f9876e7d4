package pdftext

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func corpusFile(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(corpusOrSkip(t), name)
}

func TestEncryptedEmptyUserPassword(t *testing.T) {
	p := corpusFile(t, "circular-water-aes256.pdf")
	res, err := ExtractFile(context.Background(), p, Options{})
	if err != nil {
		t.Fatalf("AES-256 with an empty user password should open: %v", err)
	}
	ref, err := os.ReadFile(corpusFile(t, "circular-water-aes256.pdftotext.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r, _, missed := recall(res.Text, string(ref)); r < minRecall {
		t.Errorf("recall %.4f < %.2f, missed %q", r, minRecall, missed)
	}
}

func TestErrorsForBadInput(t *testing.T) {
	for _, tc := range []struct {
		file string
		want error
	}{
		{"groff-report-password.pdf", ErrPasswordProtected},
		{"tender-notice-truncated.pdf", ErrCorrupt},
		{"not-a-pdf.pdf", ErrNotPDF},
		{"empty.pdf", ErrEmpty},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res, err := ExtractFile(context.Background(), corpusFile(t, tc.file), Options{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got (%v, %v), want error %v", res, err, tc.want)
			}
			if res != nil {
				t.Errorf("got a result with the error: %+v", res)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Errorf("error comes from a recovered panic: %v", err)
			}
		})
	}
}

func TestErrorsFromBytes(t *testing.T) {
	if _, err := Extract(context.Background(), nil, Options{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("nil input: %v", err)
	}
	if _, err := Extract(context.Background(), []byte("<html><body>hi</body></html>"), Options{}); !errors.Is(err, ErrNotPDF) {
		t.Errorf("html input: %v", err)
	}
	if _, err := Extract(context.Background(), []byte("%PDF-1.4\n%%EOF\n"), Options{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("header only: %v", err)
	}
}

func TestScanned(t *testing.T) {
	res, err := ExtractFile(context.Background(), corpusFile(t, "circular-water-scanned.pdf"), Options{})
	if !errors.Is(err, ErrScanned) {
		t.Fatalf("want ErrScanned, got %v", err)
	}
	if res == nil || res.Method != MethodScanned {
		t.Fatalf("want a result with Method %q, got %+v", MethodScanned, res)
	}
	if res.PagesRead != 1 || res.PageCount != 1 {
		t.Errorf("pages: read %d of %d", res.PagesRead, res.PageCount)
	}
}

func TestHindiKeepsDevanagari(t *testing.T) {
	res, err := ExtractFile(context.Background(), corpusFile(t, "circular-hindi.pdf"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(corpusFile(t, "circular-hindi.pdftotext.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// Whole words as pdftotext shows them, including conjuncts and vowel
	// signs, which depend on ActualText and ToUnicode clusters.
	for _, w := range []string{"भारत", "सरकार", "शिक्षा", "मंत्रालय", "कार्यालय", "ज्ञापन", "विद्यालयों", "गुणवत्ता", "प्रधानमंत्री", "निगरानी"} {
		if !strings.Contains(string(ref), w) {
			t.Fatalf("test word %q is not in the reference", w)
		}
		if !strings.Contains(res.Text, w) {
			t.Errorf("missing Devanagari word %q", w)
		}
	}
}

func TestMaxPages(t *testing.T) {
	p := corpusFile(t, "texlive-lppl.pdf")
	all, err := ExtractFile(context.Background(), p, Options{MaxPages: 100})
	if err != nil {
		t.Fatal(err)
	}
	if all.PageCount < 6 || all.PagesRead != all.PageCount {
		t.Fatalf("full read: %d of %d pages", all.PagesRead, all.PageCount)
	}
	first := words(strings.Join(all.Pages[:3], "\n"))
	var later []string
	for w := range words(strings.Join(all.Pages[3:], "\n")) {
		if first[w] == 0 && len(w) > 4 {
			later = append(later, w)
		}
	}
	if len(later) < 10 {
		t.Fatalf("expected words that occur only after page 3, got %q", later)
	}
	for _, n := range []int{1, 3} {
		res, err := ExtractFile(context.Background(), p, Options{MaxPages: n})
		if err != nil {
			t.Fatal(err)
		}
		if res.PagesRead != n || len(res.Pages) != n || res.PageCount != all.PageCount {
			t.Errorf("MaxPages %d: read %d (%d texts) of %d", n, res.PagesRead, len(res.Pages), res.PageCount)
		}
		got := words(res.Text)
		for _, w := range later {
			if got[w] > 0 {
				t.Errorf("MaxPages %d: word %q from a later page is present", n, w)
			}
		}
	}
	def, err := ExtractFile(context.Background(), p, Options{})
	if err != nil || def.PagesRead != DefaultMaxPages {
		t.Errorf("default MaxPages: read %v pages, err %v", def.PagesRead, err)
	}
}

func TestMaxBytes(t *testing.T) {
	p := corpusFile(t, "groff-report.pdf")
	if _, err := ExtractFile(context.Background(), p, Options{MaxBytes: 1000}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("file: want ErrTooLarge, got %v", err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(context.Background(), data, Options{MaxBytes: int64(len(data) - 1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("bytes: want ErrTooLarge, got %v", err)
	}
	if _, err := Extract(context.Background(), data, Options{MaxBytes: int64(len(data))}); err != nil {
		t.Errorf("exactly at the limit: %v", err)
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	data, err := os.ReadFile(corpusFile(t, "texlive-cyrguide.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Extract(context.Background(), data, Options{Timeout: time.Nanosecond})
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("tiny timeout: want ErrTimeout, got %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("tiny timeout should also match context.DeadlineExceeded: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Extract(ctx, data, Options{})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("returning on deadline took %v", d)
	}
}

func TestConcurrentExtract(t *testing.T) {
	files := corpusTextFiles(t)
	errs := make(chan error, len(files))
	for _, p := range files {
		go func() {
			_, err := ExtractFile(context.Background(), p, Options{})
			errs <- err
		}()
	}
	for range files {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
