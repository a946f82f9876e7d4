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
	"unicode/utf8"

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
	Limits   Limits        // budgets; zero fields take DefaultLimits
	// Memory, when set, is the process's extraction budget: Extract
	// first reserves MemoryEstimate(len(data)) from it, waiting (within
	// ctx, not within Timeout) while other extractions hold it, so the
	// pool is sized by bytes as well as by count. OCR's child processes
	// run after Extract returns, outside the reservation.
	Memory *MemoryGate
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

// maxJunk bounds how far into a file the "%PDF-" header is looked for.
const maxJunk = 64 << 10

// Methods reported in Result.Method.
const (
	MethodText    = "text"
	MethodScanned = "scanned"
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
	o.Limits = o.Limits.withDefaults()
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

// Extract extracts the text of the first pages of the PDF in data. It
// runs on the caller's goroutine and stops at the next check after the
// deadline passes or ctx is cancelled (checks run every few thousand
// operators, glyphs and objects), so nothing keeps running once it has
// returned. A panic in pdfcpu is recovered and reported as ErrCorrupt.
func Extract(ctx context.Context, data []byte, opts Options) (res *Result, err error) {
	opts = opts.withDefaults()
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, tooLarge(int64(len(data)), opts.MaxBytes)
	}
	// Files saved from mail, HTTP or printing pipelines can carry junk
	// before the header; pdfcpu accepts only the first KB of it, pdftotext
	// any amount. Offsets in such files count from the header, so the
	// junk is cut off. The search is bounded: a file whose first 64 KiB
	// have no header is not a PDF.
	k := bytes.Index(data[:min(len(data), maxJunk)], []byte("%PDF-"))
	if k < 0 {
		return nil, ErrNotPDF
	}
	data = data[k:]
	disableConfigOnce.Do(api.DisableConfigDir)
	if opts.Memory != nil {
		release, err := opts.Memory.Acquire(ctx, MemoryEstimate(int64(len(data))))
		if err != nil {
			return nil, err
		}
		defer release()
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			if h := panicHook.Load(); h != nil {
				(*h)(stack)
			}
			res, err = nil, fmt.Errorf("%w: internal error while reading: %v", ErrCorrupt, p)
		}
		if err != nil && ctx.Err() != nil && !errors.Is(err, ErrScanned) && !errors.Is(err, ErrBudget) {
			res, err = nil, deadlineErr(ctx, opts.Timeout)
		}
	}()
	return extract(ctx, data, opts)
}

func deadlineErr(ctx context.Context, d time.Duration) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	}
	return fmt.Errorf("%w after %v: %w", ErrTimeout, d, ctx.Err())
}

// extractor holds per-extraction state shared by pages and forms.
type extractor struct {
	ctx   context.Context
	lim   Limits
	xref  *model.XRefTable
	fonts map[int]*font
	forms map[int][]byte
	// formFonts caches each form's font resources by name.
	formFonts map[int]map[string]*font
	active    map[int]bool
	// err is the first budget error; code that cannot return errors
	// (font loading, glyph placement) records it and the interpreter
	// stops at its next operator.
	err error
	// Counters for the budgets, per document and per page.
	ops, pageOps         int
	tokens               int
	decoded, pageDecoded int64
	text, pageText       int64
}

func (x *extractor) fail(err error) {
	if x.err == nil {
		x.err = err
	}
}

func extract(ctx context.Context, data []byte, opts Options) (*Result, error) {
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Offline = true
	conf.UserPW, conf.OwnerPW = "", ""
	lim := opts.Limits
	conf.Limits.MaxStreamBytes = opts.MaxBytes
	conf.Limits.MaxDecodeBytes = lim.StreamBytes
	// A real object takes tens of bytes at least, even in a compressed
	// object stream, so the input size bounds how many a file can hold;
	// a tiny file declaring a million objects is refused before pdfcpu
	// allocates its table.
	maxObj := lim.maxObjects(len(data))
	if n := declaredSize(data); n > maxObj {
		return nil, overBudget(BudgetObjects, int64(maxObj))
	}
	conf.Limits.MaxObjectCount = maxObj
	conf.Limits.MaxXRefEntries = maxObj
	conf.Limits.MaxObjectStreamCount = min(maxObj, conf.Limits.MaxObjectStreamCount)
	pctx, err := readPDF(ctx, data, conf)
	if repairable(ctx, pctx, err) {
		// A wrong or missing xref table: rebuild it from the objects in
		// the file, as pdftotext does, and read again once.
		if fixed, ok := rebuildXref(data, maxObj); ok {
			if p2, err2 := readPDF(ctx, fixed, conf); err2 == nil && p2.RootDict != nil {
				pctx, err = p2, nil
			}
		}
	}
	if err != nil {
		return nil, readErr(ctx, err)
	}
	if pctx.RootDict == nil {
		return nil, fmt.Errorf("%w: no document catalog", ErrCorrupt)
	}
	if n := len(pctx.XRefTable.Table); n > maxObj {
		return nil, overBudget(BudgetObjects, int64(maxObj))
	}
	x := &extractor{
		ctx:       ctx,
		lim:       lim,
		xref:      pctx.XRefTable,
		fonts:     map[int]*font{},
		forms:     map[int][]byte{},
		formFonts: map[int]map[string]*font{},
		active:    map[int]bool{},
	}
	res := &Result{PageCount: pctx.PageCount, Method: MethodText}
	n := min(opts.MaxPages, pctx.PageCount)
	var alnum, imagePages int
	var firstErr error
	for p := 1; p <= n; p++ {
		text, coverage, err := x.page(p)
		if p > 1 && errors.Is(err, model.ErrPageNotFound) {
			// The page tree holds fewer pages than its /Count says
			// (2,000,000,000 in a one-page file): the document ends
			// here, and so does the count reported.
			res.PageCount = p - 1
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, ErrBudget) {
				return nil, fmt.Errorf("page %d: %w", p, err)
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("page %d: %v", p, err)
			}
		}
		if x.text += int64(len(text)); x.text > lim.DocText {
			return nil, overBudget(BudgetDocText, lim.DocText)
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

// readPDF reads the file's structure and its page count.
func readPDF(ctx context.Context, data []byte, conf *model.Configuration) (*model.Context, error) {
	pctx, err := pdfcpu.ReadWithContext(ctx, bytes.NewReader(data), conf)
	if err != nil {
		return nil, err
	}
	if pctx.RootDict == nil {
		return pctx, nil
	}
	if err := pctx.EnsurePageCount(); err != nil {
		return nil, fmt.Errorf("page tree: %v", err)
	}
	return pctx, nil
}

// repairable tells whether a failed read may be a damaged xref table
// worth rebuilding: not a password, an empty file, a budget or a deadline.
func repairable(ctx context.Context, pctx *model.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err == nil {
		return pctx.RootDict == nil
	}
	re := readErr(ctx, err)
	return !errors.Is(re, ErrPasswordProtected) && !errors.Is(re, ErrEmpty) && !errors.Is(err, ErrBudget)
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
	x.pageOps, x.pageDecoded, x.pageText = 0, 0, 0
	content, err := x.pageContent(d)
	if err != nil {
		return "", 0, err
	}
	out := &pageOut{}
	in := x.newInterp(out, res, gstate{ctm: identity, hscale: 1}, 0)
	if err := in.run(content); err != nil {
		return "", 0, err
	}
	content = nil
	if err := x.annotations(d, out); err != nil {
		return "", 0, err
	}
	if x.err != nil {
		return "", 0, x.err
	}
	coverage := 0.0
	if area > 0 {
		coverage = out.imageArea / area
	}
	if debugHook != nil {
		debugHook(out.glyphs)
	}
	text, err := layoutPage(x.ctx, out.glyphs)
	return text, coverage, err
}

// pageContent decodes and joins a page's content streams. Each listed
// stream is charged every time it is listed: a Contents array naming one
// stream 40 times costs 40 decodings of budget.
func (x *extractor) pageContent(d types.Dict) ([]byte, error) {
	var streams []types.Object
	switch c := x.resolve(d["Contents"]).(type) {
	case types.StreamDict:
		streams = []types.Object{c}
	case types.Array:
		streams = c
	}
	var content []byte
	for i, o := range streams {
		if i%64 == 0 {
			if err := x.ctx.Err(); err != nil {
				return nil, err
			}
		}
		sd := x.stream(o)
		if sd == nil {
			continue
		}
		data, err := x.decodeFor(sd, true)
		if err != nil {
			return nil, err
		}
		if len(streams) == 1 {
			return data, nil // no copy of a large single stream
		}
		content = append(content, data...)
		content = append(content, '\n')
	}
	return content, nil
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

// decode returns a stream's decoded bytes within the document's budgets,
// or nil when it cannot be decoded or a budget is exhausted (recorded in
// x.err). It is for resources shared by pages, such as fonts.
func (x *extractor) decode(sd *types.StreamDict) []byte {
	data, err := x.decodeFor(sd, false)
	if err != nil {
		x.fail(err)
		return nil
	}
	return data
}

// decodeFor decodes sd within the stream and document budgets and, for
// content drawn on the current page, the page's budget as well.
func (x *extractor) decodeFor(sd *types.StreamDict, page bool) ([]byte, error) {
	if x.err != nil {
		return nil, x.err
	}
	limit, name := x.lim.StreamBytes, BudgetStreamBytes
	if left := x.lim.DocDecode - x.decoded; left < limit {
		limit, name = left, BudgetDocDecode
	}
	if page {
		if left := x.lim.PageContent - x.pageDecoded; left < limit {
			limit, name = left, BudgetPageContent
		}
	}
	if limit <= 0 {
		return nil, overBudget(name, budgetOf(x.lim, name))
	}
	data, err := decodeBounded(x.ctx, sd, limit, name)
	if err != nil {
		var be *BudgetError
		if errors.As(err, &be) {
			be.Limit = budgetOf(x.lim, be.Budget)
		}
		return nil, err
	}
	x.decoded += int64(len(data))
	if page {
		x.pageDecoded += int64(len(data))
	}
	return data, nil
}

// budgetOf reports the configured size of a byte budget, for errors
// (decodeBounded only knows what was left of it).
func budgetOf(l Limits, name string) int64 {
	switch name {
	case BudgetPageContent:
		return l.PageContent
	case BudgetDocDecode:
		return l.DocDecode
	case BudgetStreamBytes:
		return l.StreamBytes
	}
	return maxFilters
}

// declaredSize returns the largest /Size a trailer or cross-reference
// stream declares, read straight from the bytes before pdfcpu sizes its
// tables from it. Only those dictionaries count: an embedded file's
// /Params << /Size 1207408 >> is its length in bytes, not an object count
// (pdfcpu's AnnotationDemo.pdf was refused for it).
func declaredSize(data []byte) int {
	largest := 0
	// After "trailer": the trailer dictionary, up to startxref.
	for rest := data; ; {
		i := bytes.Index(rest, []byte("trailer"))
		if i < 0 {
			break
		}
		rest = rest[i+len("trailer"):]
		win := rest[:min(len(rest), 4096)]
		if j := bytes.Index(win, []byte("startxref")); j >= 0 {
			win = win[:j]
		}
		largest = max(largest, sizeIn(win))
	}
	// A cross-reference stream: /Type /XRef, its dictionary from the
	// "obj" before it to the "stream" after it.
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte("/XRef"))
		if i < 0 {
			break
		}
		i += off
		off = i + len("/XRef")
		lo := max(0, i-4096)
		if j := bytes.LastIndex(data[lo:i], []byte("obj")); j >= 0 {
			lo += j
		}
		hi := min(len(data), off+4096)
		if j := bytes.Index(data[off:hi], []byte("stream")); j >= 0 {
			hi = off + j
		}
		largest = max(largest, sizeIn(data[lo:hi]))
	}
	return largest
}

// sizeIn returns the largest /Size value in a dictionary's bytes.
func sizeIn(rest []byte) int {
	largest := 0
	for {
		i := bytes.Index(rest, []byte("/Size"))
		if i < 0 {
			return largest
		}
		rest = rest[i+len("/Size"):]
		j := 0
		for j < len(rest) && j < 16 && (rest[j] == ' ' || rest[j] == '\r' || rest[j] == '\n' || rest[j] == '\t') {
			j++
		}
		n, digits := 0, 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' && digits < 10 {
			n = n*10 + int(rest[j]-'0')
			j++
			digits++
		}
		largest = max(largest, n)
	}
}

// truncateText cuts s to at most n bytes at a character boundary.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
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

// formContent decodes a form XObject once per document, but charges the
// page's content budget each time the form is drawn, as if inline.
func (x *extractor) formContent(key int, sd *types.StreamDict) ([]byte, error) {
	if key >= 0 {
		if c, ok := x.forms[key]; ok {
			if x.pageDecoded += int64(len(c)); x.pageDecoded > x.lim.PageContent {
				return nil, overBudget(BudgetPageContent, x.lim.PageContent)
			}
			return c, nil
		}
	}
	c, err := x.decodeFor(sd, true)
	if err != nil {
		return nil, err
	}
	if key >= 0 {
		x.forms[key] = c
	}
	return c, nil
}
