package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/testenv"
)

// TestExtractCommandOCR: a scanned circular is read through OCR, and the
// command says so with its confidence; --ocr off keeps the old refusal.
func TestExtractCommandOCR(t *testing.T) {
	testenv.RequireTool(t, "tesseract")
	testenv.RequireTool(t, "pdftoppm")
	scan := filepath.Join(testenv.Corpus(t), "circular-water-scan-200dpi.pdf")
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs([]string{"extract", "--pages", "2", "--ocr-languages", "eng", scan})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Jal Jeevan Mission") || !strings.Contains(errOut.String(), "extraction_method ocr, ocr_confidence ") {
		t.Fatalf("extract printed %q / %q", out.String(), errOut.String())
	}
	root = newRootCmd(&out, &errOut)
	root.SetArgs([]string{"extract", "--ocr", "off", scan})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "OCR needed") {
		t.Fatalf("--ocr off: %v", err)
	}
	root = newRootCmd(&out, &errOut)
	root.SetArgs([]string{"extract", "--ocr", "sometimes", scan})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "auto, off, force") {
		t.Fatalf("--ocr sometimes: %v", err)
	}
}
