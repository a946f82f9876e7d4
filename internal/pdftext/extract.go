// Package pdftext extracts plain text from PDF files for tagging.
//
// It builds on pdfcpu's object model (pdfcpu has no text API) with its own
// content-stream interpreter, font decoding and layout. Extraction is
// bounded in pages, bytes and time, and never panics on hostile input.
package pdftext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Options bound one extraction.
type Options struct {
	MaxPages int           // first N pages only (default 3 when <= 0)
	MaxBytes int64         // refuse larger input (default 50 MiB when <= 0)
	Timeout  time.Duration // whole extraction deadline (default 30s when <= 0); also honour ctx
}

// Result is what was extracted.
type Result struct {
	Text      string   // pages joined with "\n\n" (form feed not needed)
	Pages     []string // text per page read
	PagesRead int
	PageCount int
	Method    string // "text" or "scanned"
}

// Errors returned by Extract, possibly wrapped with detail; match them
// with errors.Is.
var (
	ErrEmpty             = errors.New("empty file")
	ErrNotPDF            = errors.New("not a PDF file")
	ErrPasswordProtected = errors.New("PDF is password protected")
	ErrCorrupt           = errors.New("PDF is damaged or truncated") // wrap with detail
	ErrScanned           = errors.New("no extractable text; OCR needed")
	ErrTooLarge          = errors.New("PDF is too large")
	ErrTimeout           = errors.New("text extraction timed out")
)

// Defaults applied to zero or negative Options fields.
const (
	DefaultMaxPages = 3
	DefaultMaxBytes = 50 << 20
	DefaultTimeout  = 30 * time.Second
)

// Methods reported in Result.Method.
const (
	MethodText    = "text"
	MethodScanned = "scanned"
)

// Decoding limits: a small PDF can inflate to gigabytes (a "zip bomb"),
// so each stream and the whole extraction get a budget.
const (
	maxStreamDecode = 64 << 20
	maxTotalDecode  = 256 << 20
)

var disableConfigOnce sync.Once

// debugHook, when set by tests, sees every page's placed glyphs.
var debugHook func([]placed)

// panicHook, when set by tests, sees the stack of every recovered panic.
var panicHook atomic.Pointer[func(stack []byte)]

func (o Options) withDefaults() Options {
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// ExtractFile extracts text from the PDF file at path. The size limit is
// checked before the file is read.
func ExtractFile(ctx context.Context, path string, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > opts.MaxBytes {
		return nil, tooLarge(st.Size(), opts.MaxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, opts.MaxBytes+1))
	if err != nil {
		return nil, err
	}
	return Extract(ctx, data, opts)
}

func tooLarge(n, limit int64) error {
	return fmt.Errorf("%w: %d bytes, limit is %d", ErrTooLarge, n, limit)
}

// Extract extracts the text of the first pages of the PDF in data. The
// work runs in its own goroutine so that a file pdfcpu takes long to parse
// cannot hold the caller past the deadline; data must not be modified
// until Extract returns and is only read afterwards.
func Extract(ctx context.Context, data []byte, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, tooLarge(int64(len(data)), opts.MaxBytes)
	}
	// pdfcpu accepts a header within the first KB, as Acrobat does.
	if !bytes.Contains(data[:min(len(data), 1024)], []byte("%PDF-")) {
		return nil, ErrNotPDF
	}
	disableConfigOnce.Do(api.DisableConfigDir)

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if p := recover(); p != nil {
				stack := debug.Stack()
				if h := panicHook.Load(); h != nil {
					(*h)(stack)
				}
				o = outcome{err: fmt.Errorf("%w: internal error while reading: %v", ErrCorrupt, p)}
			}
			done <- o
		}()
		o.res, o.err = extract(ctx, data, opts)
	}()
	select {
	case o := <-done:
		if o.err != nil && ctx.Err() != nil && !errors.Is(o.err, ErrScanned) {
			return nil, deadlineErr(ctx, opts.Timeout)
		}
		return o.res, o.err
	case <-ctx.Done():
		return nil, deadlineErr(ctx, opts.Timeout)
	}
}

func deadlineErr(ctx context.Context, d time.Duration) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	}
	return fmt.Errorf("%w after %v: %w", ErrTimeout, d, ctx.Err())
}

// extractor holds per-extraction state shared by pages and forms.
type extractor struct {
	ctx     context.Context
	xref    *model.XRefTable
	fonts   map[int]*font
	forms   map[int][]byte
	active  map[int]bool
	ops     int
	decoded int64
}

func extract(ctx context.Context, data []byte, opts Options) (*Result, error) {
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Offline = true
	conf.UserPW, conf.OwnerPW = "", ""
	conf.Limits.MaxStreamBytes = opts.MaxBytes
	conf.Limits.MaxDecodeBytes = maxStreamDecode
	// An object takes a few bytes at least, even in a compressed object
	// stream, so the input size bounds how many a file can really hold.
	conf.Limits.MaxObjectCount = int(min(max(opts.MaxBytes, 1<<20), 10_000_000))
	conf.Limits.MaxXRefEntries = conf.Limits.MaxObjectCount
	pctx, err := pdfcpu.ReadWithContext(ctx, bytes.NewReader(data), conf)
	if err != nil {
		return nil, readErr(ctx, err)
	}
	if err := pctx.EnsurePageCount(); err != nil {
		return nil, fmt.Errorf("%w: page tree: %v", ErrCorrupt, err)
	}
	x := &extractor{
		ctx:    ctx,
		xref:   pctx.XRefTable,
		fonts:  map[int]*font{},
		forms:  map[int][]byte{},
		active: map[int]bool{},
	}
	res := &Result{PageCount: pctx.PageCount, Method: MethodText}
	n := min(opts.MaxPages, pctx.PageCount)
	var alnum, imagePages int
	var firstErr error
	for p := 1; p <= n; p++ {
		text, coverage, err := x.page(p)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("page %d: %v", p, err)
			}
		}
		res.Pages = append(res.Pages, text)
		res.PagesRead++
		if coverage >= 0.5 {
			imagePages++
		}
		for _, r := range text {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				alnum++
			}
		}
	}
	res.Text = strings.Join(res.Pages, "\n\n")
	if alnum == 0 && firstErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, firstErr)
	}
	// A scan may carry a stamped page number or a few OCR'd characters;
	// what matters is that the pages are images with almost no text.
	if alnum == 0 || (alnum < 10*res.PagesRead && imagePages == res.PagesRead) {
		res.Method = MethodScanned
		return res, fmt.Errorf("%w (%d of %d pages read, %d covered by images)", ErrScanned, res.PagesRead, res.PageCount, imagePages)
	}
	return res, nil
}

// readErr maps pdfcpu's read errors onto ours.
func readErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, pdfcpu.ErrWrongPassword), strings.Contains(strings.ToLower(err.Error()), "password"):
		return ErrPasswordProtected
	case errors.Is(err, pdfcpu.ErrEmptyInput):
		return ErrEmpty
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

// page extracts one page and reports how much of it images cover.
func (x *extractor) page(p int) (string, float64, error) {
	d, _, inh, err := x.xref.PageDict(p, false)
	if err != nil {
		return "", 0, err
	}
	if d == nil {
		return "", 0, nil
	}
	var res types.Dict
	var area float64
	if inh != nil {
		res = inh.Resources
		if inh.MediaBox != nil {
			area = math.Abs(inh.MediaBox.Width() * inh.MediaBox.Height())
		}
	}
	if res == nil {
		res = x.dict(d["Resources"])
	}
	content, err := x.xref.PageContent(d, p)
	if err != nil && !errors.Is(err, model.ErrNoContent) {
		return "", 0, err
	}
	out := &pageOut{}
	in := x.newInterp(out, res, gstate{ctm: identity, hscale: 1}, 0)
	if err := in.run(content); err != nil {
		return "", 0, err
	}
	if err := x.annotations(d, out); err != nil {
		return "", 0, err
	}
	coverage := 0.0
	if area > 0 {
		coverage = out.imageArea / area
	}
	if debugHook != nil {
		debugHook(out.glyphs)
	}
	return layoutPage(out.glyphs), coverage, nil
}

// resolve follows indirect references; broken ones read as nil.
func (x *extractor) resolve(o types.Object) types.Object {
	for i := 0; i < 8; i++ {
		if _, ok := o.(types.IndirectRef); !ok {
			return o
		}
		r, err := x.xref.Dereference(o)
		if err != nil {
			return nil
		}
		o = r
	}
	return nil
}

func (x *extractor) dict(o types.Object) types.Dict {
	switch v := x.resolve(o).(type) {
	case types.Dict:
		return v
	case types.StreamDict:
		return v.Dict
	}
	return nil
}

func (x *extractor) stream(o types.Object) *types.StreamDict {
	if v, ok := x.resolve(o).(types.StreamDict); ok {
		return &v
	}
	return nil
}

func (x *extractor) array(o types.Object) types.Array {
	if v, ok := x.resolve(o).(types.Array); ok {
		return v
	}
	return nil
}

func (x *extractor) name(o types.Object) string {
	if v, ok := x.resolve(o).(types.Name); ok {
		return string(v)
	}
	return ""
}

func (x *extractor) num(o types.Object) (float64, bool) {
	switch v := x.resolve(o).(type) {
	case types.Integer:
		return float64(v), true
	case types.Float:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// decode returns a stream's decoded bytes within the decoding budget, or
// nil when it cannot be decoded.
func (x *extractor) decode(sd *types.StreamDict) []byte {
	limit := min(int64(maxStreamDecode), maxTotalDecode-x.decoded)
	if limit <= 0 {
		return nil
	}
	// Work on a copy: pdfcpu's stream objects are shared with its table.
	c := *sd
	c.Content = nil
	if err := c.DecodeWithLimit(limit); err != nil && len(c.Content) == 0 {
		return nil
	}
	x.decoded += int64(len(c.Content))
	return c.Content
}

// fontFor loads a font once per document, keyed by object number.
func (x *extractor) fontFor(o types.Object) *font {
	key := -1
	if ir, ok := o.(types.IndirectRef); ok {
		key = ir.ObjectNumber.Value()
		if f, ok := x.fonts[key]; ok {
			return f
		}
	}
	d := x.dict(o)
	if d == nil {
		return nil
	}
	f := x.loadFont(d)
	if key >= 0 {
		x.fonts[key] = f
	}
	return f
}

// formContent decodes a form XObject once per document.
func (x *extractor) formContent(key int, sd *types.StreamDict) []byte {
	if key >= 0 {
		if c, ok := x.forms[key]; ok {
			return c
		}
	}
	c := x.decode(sd)
	if key >= 0 {
		x.forms[key] = c
	}
	return c
}
