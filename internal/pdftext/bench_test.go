package pdftext

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/testenv"
)

// BenchmarkExtract measures our extraction of the first 3 pages of each
// corpus text file; compare with BenchmarkPdftotext in the same run.
func BenchmarkExtract(b *testing.B) {
	for _, p := range corpusTextFiles(b) {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(p), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Extract(context.Background(), data, Options{MaxPages: 3}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPdftotext runs poppler's pdftotext -l 3 on the same files, as
// a separate process, which is how it would be used from Go.
func BenchmarkPdftotext(b *testing.B) {
	testenv.RequireTool(b, "pdftotext")
	for _, p := range corpusTextFiles(b) {
		b.Run(filepath.Base(p), func(b *testing.B) {
			for b.Loop() {
				if err := runPdftotext(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func runPdftotext(path string) error {
	cmd := exec.Command("pdftotext", "-l", "3", "-enc", "UTF-8", path, "-")
	cmd.Stdout = io.Discard
	return cmd.Run()
}

// TestSpeedRatioReport prints, per corpus file, the median time of our
// extraction and of pdftotext and their ratio. It only measures and never
// asserts on wall-clock time. Run with PDFTEXT_SPEED_REPORT=1.
func TestSpeedRatioReport(t *testing.T) {
	if os.Getenv("PDFTEXT_SPEED_REPORT") != "1" {
		t.Skip("set PDFTEXT_SPEED_REPORT=1 to measure the speed ratio against pdftotext")
	}
	testenv.RequireTool(t, "pdftotext")
	const runs = 21
	var sb strings.Builder
	fmt.Fprintf(&sb, "| file | size | pdftext median | pdftotext median | ratio |\n|---|---:|---:|---:|---:|\n")
	var sumOurs, sumRef time.Duration
	for _, p := range corpusTextFiles(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ours := median(runs, func() error {
			_, err := Extract(context.Background(), data, Options{MaxPages: 3})
			return err
		}, t)
		ref := median(runs, func() error { return runPdftotext(p) }, t)
		sumOurs += ours
		sumRef += ref
		fmt.Fprintf(&sb, "| %s | %d KB | %.2f ms | %.2f ms | %.2f |\n", filepath.Base(p), len(data)>>10,
			ms(ours), ms(ref), float64(ours)/float64(ref))
	}
	fmt.Fprintf(&sb, "| **total** | | %.2f ms | %.2f ms | **%.2f** |\n", ms(sumOurs), ms(sumRef), float64(sumOurs)/float64(sumRef))
	t.Log("\n" + sb.String())
	if out := os.Getenv("PDFTEXT_SPEED_REPORT_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// median runs fn n times (after one warm-up) and returns the median duration.
func median(n int, fn func() error, t *testing.T) time.Duration {
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if err := fn(); err != nil {
			t.Fatal(err)
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n/2]
}
