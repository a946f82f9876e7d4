package pdftext

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

// TestJunkBeforeHeader: bytes before "%PDF-" (a mail or HTTP leftover)
// must not hide the document, whether pdfcpu would tolerate the amount
// (under 1 KB) or not, while a file with no header in its first 64 KiB
// is still refused as not a PDF.
func TestJunkBeforeHeader(t *testing.T) {
	src, err := os.ReadFile(corpusFile(t, "circular-water.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(corpusFile(t, "circular-water.pdftotext.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 500, 3000, maxJunk - len("%PDF-")} {
		junk := bytes.Repeat([]byte("junk line\r\n"), n/11+1)[:n]
		res, err := Extract(context.Background(), append(junk, src...), Options{})
		if err != nil {
			t.Errorf("%d junk bytes: %v", n, err)
			continue
		}
		if r, _, missed := recall(res.Text, string(ref)); r < minRecall {
			t.Errorf("%d junk bytes: recall %.4f, missed %q", n, r, missed)
		}
	}
	junk := bytes.Repeat([]byte{'x'}, maxJunk)
	if _, err := Extract(context.Background(), append(junk, src...), Options{}); !errors.Is(err, ErrNotPDF) {
		t.Errorf("header after %d junk bytes: got %v, want ErrNotPDF", maxJunk, err)
	}
}
