package ocr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/tagstream/tagstream/internal/pdftext"
)

// Mode says when pages are OCR'd (job config "ocr").
type Mode string

const (
	ModeAuto  Mode = "auto"  // pages without a usable text layer
	ModeOff   Mode = "off"   // never: scanned documents fail as before
	ModeForce Mode = "force" // every page read
)

// ParseMode accepts "", auto, off and force; "" is auto.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case "", ModeAuto:
		return ModeAuto, nil
	case ModeOff:
		return ModeOff, nil
	case ModeForce:
		return ModeForce, nil
	}
	return "", fmt.Errorf("must be one of auto, off, force")
}

// Extraction methods reported in Result.Method (metadata extraction_method).
const (
	MethodText    = "text"
	MethodOCR     = "ocr"
	MethodTextOCR = "text+ocr"
)

// Options of one document's extraction.
type Options struct {
	Mode        Mode
	Languages   string        // Tesseract codes; "" = TAGSTREAM_OCR_LANGUAGES or eng+hin
	DPI         int           // 0 = 300
	PageTimeout time.Duration // 0 = 60 s
}

// DefaultLanguagesFromEnv is TAGSTREAM_OCR_LANGUAGES when valid, else eng+hin.
func DefaultLanguagesFromEnv() string {
	if l := strings.TrimSpace(os.Getenv("TAGSTREAM_OCR_LANGUAGES")); l != "" && CheckLanguages(l) == nil {
		return l
	}
	return DefaultLanguages
}

// Result is the text of a document's first pages, from its text layer,
// OCR or both.
type Result struct {
	Text       string
	Pages      []string
	PagesRead  int
	PageCount  int
	Method     string  // text | ocr | text+ocr
	Confidence float64 // mean word confidence of the OCR'd pages kept; 0 when none
	PagesOCR   int     // pages whose text came from OCR
	// OCRErr is the first page whose OCR failed (a budget, the page's
	// timeout) in a document whose thin text layer was kept instead; nil
	// otherwise. A caller finding too little text says why with it.
	OCRErr error
}

// Triggers of the original product, per page of the text layer.
const (
	minPageChars  = 150
	minPageWords  = 30
	minTotalChars = 200
	legacyShare   = 0.25
)

// Extract reads the first pages of the PDF in data and OCRs (mode auto)
// the pages in a legacy font, and, when the document's text is thin as a
// whole, its pages with too little text; every page (force) or none (off). Errors of the text layer other than "no
// text" (damaged, password protected, too large) are returned as they are.
func Extract(ctx context.Context, data []byte, popts pdftext.Options, opts Options) (*Result, error) {
	if opts.Mode == "" {
		opts.Mode = ModeAuto
	}
	if opts.Languages == "" {
		opts.Languages = DefaultLanguagesFromEnv()
	}
	tr, err := pdftext.Extract(ctx, data, popts)
	scanned := errors.Is(err, pdftext.ErrScanned)
	if err != nil && (!scanned || opts.Mode == ModeOff || tr == nil) {
		return nil, err
	}
	res := &Result{Pages: append([]string(nil), tr.Pages...), PagesRead: tr.PagesRead, PageCount: tr.PageCount, Method: MethodText}
	var want []int
	thin := scanned || thinDocument(tr.Pages)
	for i, p := range tr.Pages {
		// In a document with enough text, an empty page is taken for a
		// blank page, not a scan: OCR'ing every blank page of ordinary
		// PDFs would cost seconds each for nothing.
		if opts.Mode == ModeForce || (opts.Mode == ModeAuto && (legacyText(p) || (thin && NeedsOCR(p)))) {
			want = append(want, i)
		}
	}
	if len(want) == 0 {
		res.Text = strings.Join(res.Pages, "\n\n")
		return res, nil
	}
	if aerr := Available(); aerr != nil {
		if scanned {
			return nil, fmt.Errorf("%w: %w", pdftext.ErrScanned, aerr)
		}
		// A thin or legacy text layer is still better than nothing.
		res.Text = strings.Join(res.Pages, "\n\n")
		return res, nil
	}
	path, cleanup, err := tempPDF(data)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var confSum float64
	var words int
	lowest := math.Inf(1)
	fromOCR := make([]bool, len(res.Pages))
	for _, i := range want {
		pg, err := OCRPage(ctx, path, i+1, opts.Languages, opts.DPI, opts.PageTimeout)
		if err != nil {
			if ctx.Err() != nil || scanned {
				return nil, err
			}
			// A thin or legacy text layer is still better than nothing.
			if res.OCRErr == nil {
				res.OCRErr = err
			}
			continue
		}
		if pg.Words == 0 {
			continue // a blank page
		}
		lowest = min(lowest, pg.Confidence)
		layer := tr.Pages[i]
		if pg.Confidence < MinConfidence || (!legacyText(layer) && !ocrAddsText(wordCount(layer), wordCount(pg.Text))) {
			// Unreadable scan, or the text layer already says as much.
			continue
		}
		res.Pages[i] = pg.Text
		fromOCR[i] = true
		res.PagesOCR++
		confSum += pg.Confidence * float64(pg.Words)
		words += pg.Words
	}
	res.Text = strings.Join(res.Pages, "\n\n")
	if res.PagesOCR > 0 {
		res.Confidence = math.Round(confSum/float64(words)*10) / 10
		res.Method = MethodOCR
		for i, p := range res.Pages {
			if !fromOCR[i] && wordCount(p) > 0 {
				res.Method = MethodTextOCR
			}
		}
		return res, nil
	}
	if scanned {
		if math.IsInf(lowest, 1) {
			more := ""
			if res.PagesRead < res.PageCount {
				// Blank leading pages (a cover, a page left empty by the
				// word processor) end here with num_pages 1.
				more = fmt.Sprintf("; the document has %d pages and num_pages let only the first %d be read: "+
					"raise num_pages if its text starts later", res.PageCount, res.PagesRead)
			}
			return nil, fmt.Errorf("%w: OCR ran and found no words on the %s read%s", pdftext.ErrScanned, plural(len(want), "page"), more)
		}
		return nil, fmt.Errorf("%w: mean word confidence %.0f is below %.0f", ErrLowConfidence, lowest, MinConfidence)
	}
	return res, nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ocrAddsText reports whether OCR read enough more than a text layer (not
// in a legacy font) to replace it. The layer is the document's own text,
// exact where OCR guesses: on a one-line page OCR split "MARKaaa" into
// "MAR Kaaa" and, with one word more, replaced the right text with a wrong
// one. Counting words cannot tell a misread from new text, so OCR wins
// only where the layer is really thin for the page: an empty layer, or
// OCR reading at least twice its words and at least 10 more (a page
// whose heading is text and whose body is a scanned image).
func ocrAddsText(layerWords, ocrWords int) bool {
	if layerWords == 0 {
		return ocrWords > 0
	}
	return ocrWords >= 2*layerWords && ocrWords-layerWords >= minPageWords/3
}

// tempPDF writes data where pdftoppm can read it.
func tempPDF(data []byte) (string, func(), error) {
	f, err := os.CreateTemp("", "tagstream-ocr-*.pdf")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.Remove(f.Name()) }
	if _, err := f.Write(data); err != nil {
		f.Close()
		cleanup()
		return "", nil, err
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, err
	}
	return f.Name(), cleanup, nil
}

// thinDocument applies the original product's document triggers to the
// pages read: under 200 characters in all, or on average under 150
// characters or 30 words a page.
func thinDocument(pages []string) bool {
	chars, words := 0, 0
	for _, p := range pages {
		chars += len([]rune(strings.TrimSpace(p)))
		words += wordCount(p)
	}
	n := max(len(pages), 1)
	return chars < minTotalChars || chars < minPageChars*n || words < minPageWords*n
}

// NeedsOCR reports whether a page's text layer is unusable: too little
// text (under 150 characters or 30 words) or text of a legacy font.
func NeedsOCR(page string) bool {
	t := strings.TrimSpace(page)
	return len([]rune(t)) < minPageChars || wordCount(t) < minPageWords || legacyText(t)
}

func wordCount(s string) int {
	return len(strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.M, r) }))
}

// krutidev are letter sequences frequent in text typed with Krutidev and
// similar legacy Hindi fonts, which extract as Latin-1 gibberish:
// "Hkkjr" (भारत), "ljdkj" (सरकार), "ea=ky;" (मंत्रालय), "fd" (कि).
// Matched case-sensitively: Krutidev uses case for different letters.
var krutidev = []string{"Hkkjr", "ljdkj", "ea=ky;", "ea=h", "dk;Z", "vkSj", "gSa", "fd;k", "ds fy,", "lfpo", "foHkkx", "jkT;", "ctV"}

// legacyText reports text extracted from a legacy (non-Unicode) Indian
// font: over 25% of its letters in U+00A0-U+024F, or Krutidev patterns.
func legacyText(s string) bool {
	letters, latin1 := 0, 0
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		letters++
		if r >= 0xA0 && r <= 0x24F {
			latin1++
		}
	}
	if letters > 0 && float64(latin1) > legacyShare*float64(letters) {
		return true
	}
	hits := 0
	for _, p := range krutidev {
		hits += strings.Count(s, p)
	}
	words := wordCount(s)
	return hits >= 3 && hits*20 >= words // a few per hundred words
}
