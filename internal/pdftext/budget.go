package pdftext

import (
	"errors"
	"fmt"
)

// ErrBudget is returned (wrapped in a *BudgetError) when a document needs
// more work or memory than a Limits field allows. A small PDF can expand
// into gigabytes of content or text, so every input-driven quantity has
// a budget and exceeding one fails that document alone.
var ErrBudget = errors.New("PDF exceeds an extraction budget")

// Budget names, reported in BudgetError.Budget.
const (
	BudgetStreamBytes = "stream-bytes"   // decoded bytes of one stream
	BudgetPageContent = "page-content"   // decoded content bytes of one page, forms included
	BudgetDocDecode   = "document-bytes" // decoded bytes of the whole extraction
	BudgetObjects     = "objects"        // objects declared, relative to the file size
	BudgetPageOps     = "page-operators" // content operators of one page
	BudgetDocOps      = "document-operators"
	BudgetPageText    = "page-text" // bytes of text produced for one page
	BudgetDocText     = "document-text"
	BudgetFilters     = "filters" // length of one stream's filter chain
)

// BudgetError tells which budget a document exceeded.
type BudgetError struct {
	Budget string
	Limit  int64
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%v: %s over %d", ErrBudget, e.Budget, e.Limit)
}

// Is makes errors.Is(err, ErrBudget) true for every BudgetError.
func (e *BudgetError) Is(target error) bool { return target == ErrBudget }

func overBudget(name string, limit int64) error {
	return &BudgetError{Budget: name, Limit: limit}
}

// Limits are the budgets of one extraction; zero fields take the default.
// The defaults sit far above what real documents need (the corpus's
// largest page content is under 1 MiB) and far below what would hurt a
// worker sharing memory with seven others.
type Limits struct {
	StreamBytes int64 // decoded bytes per stream
	PageContent int64 // decoded content bytes per page (repeats and forms count each time)
	DocDecode   int64 // decoded bytes per document (content, forms, fonts, CMaps)
	// ObjectsPerKB bounds the objects a file may declare: ObjectsBase plus
	// this many per KiB of input. Real files spend hundreds of bytes per
	// object even in compressed object streams.
	ObjectsBase  int
	ObjectsPerKB int
	// ObjectsMax caps objects whatever the size: pdfcpu keeps about 3 KB
	// of heap per object, so this bounds its part of MemoryEstimate.
	ObjectsMax int
	PageOps    int   // content operators per page
	DocOps     int   // content operators per document
	PageText   int64 // text bytes per page
	DocText    int64 // text bytes per document
	CodeText   int   // text bytes one character code may produce (longer maps are cut)
}

// DefaultLimits are applied to zero fields of Options.Limits.
var DefaultLimits = Limits{
	StreamBytes:  32 << 20,
	PageContent:  48 << 20,
	DocDecode:    128 << 20,
	ObjectsBase:  10_000,
	ObjectsPerKB: 64,
	ObjectsMax:   200_000,
	PageOps:      4_000_000,
	DocOps:       10_000_000,
	PageText:     2 << 20,
	DocText:      8 << 20,
	CodeText:     256,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	set64 := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set64(&l.StreamBytes, d.StreamBytes)
	set64(&l.PageContent, d.PageContent)
	set64(&l.DocDecode, d.DocDecode)
	set(&l.ObjectsBase, d.ObjectsBase)
	set(&l.ObjectsPerKB, d.ObjectsPerKB)
	set(&l.ObjectsMax, d.ObjectsMax)
	set(&l.PageOps, d.PageOps)
	set(&l.DocOps, d.DocOps)
	set64(&l.PageText, d.PageText)
	set64(&l.DocText, d.DocText)
	set(&l.CodeText, d.CodeText)
	return l
}

// maxObjects is how many objects a file of n bytes may declare.
func (l Limits) maxObjects(n int) int {
	return min(l.ObjectsBase+n/1024*l.ObjectsPerKB, l.ObjectsMax)
}

// maxFilters bounds one stream's filter chain; real files use one or two.
const maxFilters = 4
