package ocr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext"
)

// TestCancelKillsRunningOCR: a pause, cancel or shutdown ends the context
// while Tesseract runs; the process is killed and Extract returns the
// context's error. A stand-in "tesseract" that never finishes tells the
// test through a FIFO that it runs, so no timing is assumed.
func TestCancelKillsRunningOCR(t *testing.T) {
	requireOCR(t)
	scan := readCorpus(t, "circular-water-scan-200dpi.pdf")
	missingLanguages(bg, "eng") // cache the real tool's languages first
	dir := t.TempDir()
	fifo := filepath.Join(dir, "started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	pdftoppm, _ := exec.LookPath("pdftoppm")
	if err := os.Symlink(pdftoppm, filepath.Join(dir, "pdftoppm")); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho $$ > " + fifo + "\nexec sleep 600\n"
	if err := os.WriteFile(filepath.Join(dir, "tesseract"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":/usr/bin:/bin")

	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Extract(ctx, scan, pdftext.Options{}, Options{Languages: "eng"})
		done <- err
	}()
	b, err := os.ReadFile(fifo) // blocks until the stand-in runs
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 0 {
		t.Fatalf("pid %q: %v", b, err)
	}
	// Run waited for the killed process, so it no longer exists.
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("tesseract stand-in %d still runs after cancel", pid)
	}
}

func TestConcurrencySetting(t *testing.T) {
	t.Setenv("TAGSTREAM_OCR_CONCURRENCY", "3")
	if got := concurrency(); got != 3 {
		t.Fatalf("concurrency() = %d, want 3", got)
	}
	for _, bad := range []string{"", "0", "-2", "many"} {
		t.Setenv("TAGSTREAM_OCR_CONCURRENCY", bad)
		if got := concurrency(); got < 1 || got > 64 {
			t.Fatalf("%q: concurrency() = %d", bad, got)
		}
	}
}
