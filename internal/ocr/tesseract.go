// Package ocr reads the text of scanned pages: it renders a PDF page with
// poppler's pdftoppm and recognises it with the tesseract command line.
//
// Why the command line and not a cgo binding (gosseract): the build stays
// free of cgo and of libtesseract headers; every page runs in its own
// process, so a crash or a runaway page in Tesseract cannot take the
// service down, and exec.CommandContext kills it when the page's timeout,
// a pause, a cancel or a shutdown ends the context. A process start costs
// a few milliseconds against 1-10 seconds of recognition per page.
package ocr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults, as in the original product: 300 dpi grayscale, 60 s a page,
// accepted when the mean word confidence is at least 60.
const (
	DefaultLanguages   = "eng+hin"
	DefaultDPI         = 300
	DefaultPageTimeout = 60 * time.Second
	MinConfidence      = 60.0
	maxTSVBytes        = 8 << 20 // a dense page is well under 1 MiB of TSV
)

// Errors; match with errors.Is.
var (
	ErrUnavailable   = errors.New("OCR is not available on this server: install tesseract-ocr and poppler-utils (apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-hin poppler-utils)")
	ErrLowConfidence = errors.New("OCR confidence too low")
	ErrPageTimeout   = errors.New("OCR of a page timed out")
)

// Available reports whether the tools OCR needs are installed; serve logs
// its error as a warning at start.
func Available() error {
	var missing []string
	for _, tool := range []string{"tesseract", "pdftoppm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w (missing: %s)", ErrUnavailable, strings.Join(missing, ", "))
	}
	return nil
}

var langPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,31}(\+[a-z][a-z0-9_]{1,31}){0,11}$`)

// CheckLanguages validates the shape of a Tesseract language list
// ("eng+hin"): at most 12 codes of lowercase letters, digits and "_".
func CheckLanguages(s string) error {
	if !langPattern.MatchString(s) {
		return fmt.Errorf("must be Tesseract language codes joined by '+', such as %q", DefaultLanguages)
	}
	return nil
}

var (
	langsOnce sync.Once
	langsHave map[string]bool
)

// missingLanguages names the codes of langs that tesseract has no data for.
func missingLanguages(ctx context.Context, langs string) []string {
	langsOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "tesseract", "--list-langs").Output()
		if err != nil {
			return
		}
		langsHave = map[string]bool{}
		for _, l := range strings.Split(string(out), "\n")[1:] {
			if l = strings.TrimSpace(l); l != "" {
				langsHave[l] = true
			}
		}
	})
	if langsHave == nil {
		return nil // unknown: let tesseract say it
	}
	var miss []string
	for _, l := range strings.Split(langs, "+") {
		if !langsHave[l] {
			miss = append(miss, l)
		}
	}
	return miss
}

// sem caps concurrent OCR processes over the whole process: recognition
// is CPU-bound, and the worker slots that wait here should not also
// starve the HTTP side. TAGSTREAM_OCR_CONCURRENCY overrides the default
// (half the cores, 1 or 2 on small machines).
var sem = make(chan struct{}, concurrency())

func concurrency() int {
	if n, err := strconv.Atoi(os.Getenv("TAGSTREAM_OCR_CONCURRENCY")); err == nil && n > 0 {
		return min(n, 64)
	}
	return max(1, runtime.NumCPU()/2)
}

// Page is the OCR of one page.
type Page struct {
	Text       string
	Confidence float64 // mean word confidence, 0-100; 0 when no words
	Words      int
	Duration   time.Duration
}

// OCRPage renders page (1-based) of the PDF at path and recognises it.
// The page's timeout covers rendering and recognition, once a slot of the
// process-wide semaphore is free; ctx ending kills the running tool.
func OCRPage(ctx context.Context, path string, page int, langs string, dpi int, timeout time.Duration) (Page, error) {
	if err := Available(); err != nil {
		return Page{}, err
	}
	if miss := missingLanguages(ctx, langs); len(miss) > 0 {
		return Page{}, fmt.Errorf("%w: no Tesseract language data for %s (install tesseract-ocr-%s)", ErrUnavailable, strings.Join(miss, ", "), miss[0])
	}
	if dpi <= 0 {
		dpi = DefaultDPI
	}
	if timeout <= 0 {
		timeout = DefaultPageTimeout
	}
	start := time.Now()
	// The wait for a slot is bounded by the caller's context only: under
	// a queue of scans a page must not time out before it even started.
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		return Page{}, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "tagstream-ocr-")
	if err != nil {
		return Page{}, err
	}
	defer os.RemoveAll(dir)
	p := strconv.Itoa(page)
	// -gray without -png writes an uncompressed PGM: no time spent
	// compressing an image that is read once, a moment later.
	if _, err := run(ctx, "pdftoppm", "-r", strconv.Itoa(dpi), "-gray", "-f", p, "-l", p, "-singlefile", path, filepath.Join(dir, "page")); err != nil {
		return Page{}, toolErr(ctx, "pdftoppm", page, timeout, err)
	}
	out, err := run(ctx, "tesseract", filepath.Join(dir, "page.pgm"), "-", "-l", langs, "--psm", "3", "--oem", "1", "tsv")
	if err != nil {
		return Page{}, toolErr(ctx, "tesseract", page, timeout, err)
	}
	res := parseTSV(out)
	res.Duration = time.Since(start)
	return res, nil
}

func pageErr(ctx context.Context, page int, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: page %d after %v", ErrPageTimeout, page, timeout)
	}
	return ctx.Err()
}

func toolErr(ctx context.Context, tool string, page int, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return pageErr(ctx, page, timeout)
	}
	return fmt.Errorf("OCR of page %d: %s: %w", page, tool, err)
}

// run executes a tool with a bounded output and reports its stderr's last
// line on failure. OMP_THREAD_LIMIT=1 keeps Tesseract to one core, so the
// semaphore alone decides how many cores OCR takes.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	cmd.WaitDelay = 2 * time.Second
	var stdout limitedBuffer
	stdout.limit = maxTSVBytes
	var stderr limitedBuffer
	stderr.limit = 16 << 10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if msg != "" {
			return nil, fmt.Errorf("%v: %s", err, msg)
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}

// limitedBuffer keeps at most limit bytes and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// parseTSV rebuilds the page's text from Tesseract's TSV (one row per
// word with its block, paragraph and line) and averages the confidence
// of the recognised words.
func parseTSV(tsv []byte) Page {
	var b strings.Builder
	var sum float64
	var n int
	lastBlock, lastPar, lastLine := "", "", ""
	for i, line := range strings.Split(string(tsv), "\n") {
		f := strings.Split(strings.TrimRight(line, "\r"), "\t")
		if i == 0 || len(f) < 12 || f[0] != "5" {
			continue
		}
		text := strings.TrimSpace(f[11])
		conf, err := strconv.ParseFloat(f[10], 64)
		if text == "" || err != nil || conf < 0 {
			continue
		}
		block, par, ln := f[2], f[3], f[4]
		switch {
		case b.Len() == 0:
		case block != lastBlock || par != lastPar:
			b.WriteString("\n\n")
		case ln != lastLine:
			b.WriteByte('\n')
		default:
			b.WriteByte(' ')
		}
		lastBlock, lastPar, lastLine = block, par, ln
		b.WriteString(text)
		sum += conf
		n++
	}
	p := Page{Text: b.String(), Words: n}
	if n > 0 {
		p.Confidence = sum / float64(n)
	}
	return p
}
