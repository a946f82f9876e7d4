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
	"syscall"
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
	ErrBudget        = errors.New("OCR of a page exceeded its budget") // matches every *BudgetError
)

// Budgets of each child process (pdftoppm, then tesseract, per page). The
// Go side's memory gate (TAGSTREAM_EXTRACT_MEMORY) counts the Go heap
// only, and a 2.5 KB PDF of 500,000 nested "q" made pdftoppm take 2.7 GB;
// 31 form XObjects each drawing the next twice kept it painting for the
// page's whole 60 s. So run sets an address-space limit (ulimit -v) and a
// CPU-time limit (ulimit -t) in a /bin/sh that then execs the tool: Go's
// os/exec cannot set a child's rlimits, and prlimit after Start would
// leave the child unlimited for its first moments.
//
// Measured on the corpus (poppler 22.12, Tesseract 5.3, eng+hin,
// OMP_THREAD_LIMIT=1), an A4 page at 300 dpi: pdftoppm peaks at 35 MiB
// resident and needs 43 MiB of address space, tesseract at 84 MiB
// resident, 139 MiB of address space and 2.9 s of CPU (the Hindi scans at
// 200 dpi included). A page of four times the pixels (the Hindi scan
// rendered at 600 dpi, like A2 at 300 dpi) needs 119 and 215 MiB of
// address space and 0.6 and 2.5 s of CPU. 1 GiB and 30 s leave a real
// page several times its need; OCR runs at most TAGSTREAM_OCR_CONCURRENCY
// children at once, so OCR takes at most that many GiB beside the Go heap.
const (
	ChildMemory = 1 << 30          // bytes of address space per child
	ChildCPU    = 30 * time.Second // CPU time per child
)

// The budgets run applies; tests lower them to keep hostile pages cheap.
var (
	childMemory int64 = ChildMemory
	childCPU          = ChildCPU
)

// BudgetError is a page whose tool was stopped by its memory or CPU
// budget (errors.Is(err, ErrBudget)).
type BudgetError struct {
	Page     int
	Tool     string // pdftoppm or tesseract
	Resource string // "memory" or "CPU"
	Limit    string // "1 GiB of address space", "30s of CPU time"
	MaxRSS   int64  // the tool's peak resident memory in bytes, when known
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("OCR of page %d exceeded its %s budget (%s over %s)", e.Page, e.Resource, e.Tool, e.Limit)
}

func (e *BudgetError) Is(target error) bool { return target == ErrBudget }

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
	var over *overBudget
	if errors.As(err, &over) {
		return &BudgetError{Page: page, Tool: tool, Resource: over.resource, Limit: over.limit, MaxRSS: over.maxRSS}
	}
	return fmt.Errorf("OCR of page %d: %s: %w", page, tool, err)
}

// run executes a tool under the child budgets (ChildMemory, ChildCPU)
// with a bounded output, and reports its stderr's last line on failure.
// OMP_THREAD_LIMIT=1 keeps Tesseract to one core, so the semaphore alone
// decides how many cores OCR takes (and CPU time is about wall time).
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, err
	}
	mem, cpu := childMemory, childCPU
	secs := max(1, int64((cpu+time.Second-1)/time.Second))
	// "$0" "$@" are the tool and its arguments, passed as they are (the
	// shell does not split them). A hard limit already lower than ours
	// stays: ulimit may fail to raise it, and the tool still runs. CPU
	// time: SIGXCPU at the soft limit names the cause; SIGKILL at the hard
	// one, 2 s later, ends a tool that ignores it.
	script := fmt.Sprintf(`ulimit -v %d 2>/dev/null; ulimit -S -t %d 2>/dev/null; ulimit -H -t %d 2>/dev/null; exec "$0" "$@"`, mem>>10, secs, secs+2)
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", script, path}, args...)...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	cmd.WaitDelay = 2 * time.Second
	var stdout limitedBuffer
	stdout.limit = maxTSVBytes
	var stderr limitedBuffer
	stderr.limit = 16 << 10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	// Checked on success too: pdftoppm and Leptonica may report a failed
	// allocation and still exit 0, with a blank or partial page.
	if over := budgetExceeded(cmd.ProcessState, stderr.String(), mem, cpu); over != nil {
		return nil, over
	}
	if err != nil {
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

// overBudget is a child stopped by (or failing for) one of its budgets.
type overBudget struct {
	resource, limit string
	maxRSS          int64
}

func (o *overBudget) Error() string { return o.resource + " budget exceeded: " + o.limit }

// outOfMemory matches what the tools print when an allocation fails:
// poppler ("Out of memory"), C++ (std::bad_alloc), Leptonica
// ("pixdata_malloc fail"), the dynamic loader (failed to map segment).
var outOfMemory = regexp.MustCompile(`(?i)out of memory|bad_alloc|[a-z_]*[mc]alloc fail|cannot allocate memory|failed to map segment`)

// budgetExceeded tells whether a finished child ran into its budgets:
// killed for CPU time (SIGXCPU at the limit, SIGKILL past it), an
// allocation failure on stderr, or killed by a signal after using at
// least half its address space (an abort or crash from a failed
// allocation that printed nothing).
func budgetExceeded(ps *os.ProcessState, stderr string, mem int64, cpu time.Duration) *overBudget {
	memLimit := fmt.Sprintf("%s of address space", sizeText(mem))
	var maxRSS int64
	var used time.Duration
	ru, _ := stateRusage(ps)
	if ru != nil {
		maxRSS = ru.Maxrss << 10 // KiB on Linux
		used = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if ws, ok := waitStatus(ps); ok && ws.Signaled() {
		switch sig := ws.Signal(); {
		case sig == syscall.SIGXCPU || (sig == syscall.SIGKILL && used >= cpu):
			return &overBudget{resource: "CPU", limit: fmt.Sprintf("%v of CPU time", cpu), maxRSS: maxRSS}
		case maxRSS >= mem/2 && (sig == syscall.SIGABRT || sig == syscall.SIGSEGV || sig == syscall.SIGBUS || sig == syscall.SIGKILL):
			return &overBudget{resource: "memory", limit: memLimit, maxRSS: maxRSS}
		}
	}
	if outOfMemory.MatchString(stderr) {
		return &overBudget{resource: "memory", limit: memLimit, maxRSS: maxRSS}
	}
	return nil
}

func stateRusage(ps *os.ProcessState) (*syscall.Rusage, bool) {
	if ps == nil {
		return nil, false
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	return ru, ok && ru != nil
}

func waitStatus(ps *os.ProcessState) (syscall.WaitStatus, bool) {
	if ps == nil {
		return 0, false
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ws, ok
}

// sizeText writes a byte count in GiB or MiB.
func sizeText(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
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
