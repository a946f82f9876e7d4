// Package sheet reads and writes .xlsx spreadsheets (with excelize) under
// budgets: a spreadsheet is a zip archive of XML, so an upload of a few
// kilobytes can claim gigabytes once inflated.
//
// It is a pure adapter: it imports nothing else from Tagstream.
package sheet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Limits bound one read. Zero fields take the defaults.
type Limits struct {
	MaxBytes      int64 // the .xlsx file itself; default 20 MiB
	MaxUnzipBytes int64 // everything inflated; default 8x MaxBytes
	MaxRows       int   // data rows (not the header); default 10000 (TAGSTREAM_MAX_DOCUMENTS)
	MaxColumns    int   // default 200, the results export's column budget
	MaxCellBytes  int   // one cell; default 64 KiB, a document's own bound
	// MaxTextBytes bounds the text of every cell read, together; default
	// 64 MiB. The inflated bound does not: a cell may name a shared string
	// that each reference copies, so a few kilobytes of zip can stand for
	// gigabytes of cells.
	MaxTextBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 20 << 20
	}
	if l.MaxUnzipBytes <= 0 {
		l.MaxUnzipBytes = 8 * l.MaxBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = 10000
	}
	if l.MaxColumns <= 0 {
		l.MaxColumns = 200
	}
	if l.MaxCellBytes <= 0 {
		l.MaxCellBytes = 64 << 10
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = 64 << 20
	}
	return l
}

// zipMagic starts every .xlsx (a zip archive).
var zipMagic = []byte("PK\x03\x04")

// IsXLSX says whether a file is to be read as a spreadsheet: by its
// extension, or by the zip magic of its first bytes (a CSV never starts so).
func IsXLSX(name string, head []byte) bool {
	return strings.EqualFold(filepath.Ext(name), ".xlsx") || bytes.HasPrefix(head, zipMagic)
}

// Error is a problem with the spreadsheet, at a row (1-based as the
// spreadsheet shows it; 0 for the file as a whole).
type Error struct {
	Row int
	Msg string
}

func (e *Error) Error() string {
	if e.Row == 0 {
		return e.Msg
	}
	return fmt.Sprintf("row %d: %s", e.Row, e.Msg)
}

// ReadXLSX reads the first sheet: its first non-empty row is the header,
// every further non-empty row a record with as many cells as the header
// (short rows are padded: spreadsheets drop trailing empty cells). Values
// are as the spreadsheet displays them (numbers formatted, formulas'
// cached results, never evaluated).
func ReadXLSX(r io.Reader, lim Limits) (header []string, records [][]string, err error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, nil, &Error{Msg: fmt.Sprintf("the spreadsheet is larger than %d bytes", lim.MaxBytes)}
	}
	if !bytes.HasPrefix(data, zipMagic) {
		return nil, nil, &Error{Msg: "not an .xlsx spreadsheet (an .xlsx file is a zip archive; old .xls files are not read: save as .xlsx or CSV)"}
	}
	// A malformed archive must be an error, not a crash of the command or
	// server reading it.
	defer func() {
		if p := recover(); p != nil {
			header, records, err = nil, nil, &Error{Msg: fmt.Sprintf("the spreadsheet is damaged (%v)", p)}
		}
	}()
	if err := prescan(data, lim); err != nil {
		return nil, nil, err
	}
	xml := min(lim.MaxUnzipBytes, 16<<20)
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: lim.MaxUnzipBytes, UnzipXMLSizeLimit: xml})
	if err != nil {
		return nil, nil, openError(err, lim)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, nil, &Error{Msg: "the spreadsheet has no sheet"}
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		return nil, nil, &Error{Msg: fmt.Sprintf("the first sheet %q cannot be read: %v", sheets[0], err)}
	}
	defer rows.Close()
	var text int64
	for n := 1; rows.Next(); n++ {
		cells, err := rows.Columns()
		if err != nil {
			return nil, nil, &Error{Row: n, Msg: fmt.Sprintf("cannot be read: %v", err)}
		}
		cells = trimTail(cells)
		if len(cells) == 0 {
			continue
		}
		if len(cells) > lim.MaxColumns {
			return nil, nil, &Error{Row: n, Msg: fmt.Sprintf("%d columns, more than the %d allowed", len(cells), lim.MaxColumns)}
		}
		for i, c := range cells {
			if len(c) > lim.MaxCellBytes {
				return nil, nil, &Error{Row: n, Msg: fmt.Sprintf("column %d holds more than %d bytes", i+1, lim.MaxCellBytes)}
			}
			text += int64(len(c))
		}
		if text > lim.MaxTextBytes {
			return nil, nil, textBudgetError(n, lim)
		}
		if header == nil {
			header = cells
			continue
		}
		if len(cells) > len(header) {
			return nil, nil, &Error{Row: n, Msg: fmt.Sprintf("%d cells, but the header has %d columns", len(cells), len(header))}
		}
		if len(records) == lim.MaxRows {
			return nil, nil, &Error{Row: n, Msg: fmt.Sprintf("more than %d documents", lim.MaxRows)}
		}
		records = append(records, append(cells, make([]string, len(header)-len(cells))...))
	}
	if err := rows.Error(); err != nil {
		return nil, nil, &Error{Msg: fmt.Sprintf("the first sheet cannot be read: %v", err)}
	}
	if header == nil {
		return nil, nil, &Error{Msg: "the first sheet is empty; its first row must name the columns"}
	}
	return header, records, nil
}

// textBudgetError is the refusal of a spreadsheet past MaxTextBytes at row.
func textBudgetError(row int, lim Limits) error {
	return &Error{Row: row, Msg: fmt.Sprintf("the spreadsheet's cells hold more than %d bytes of text in all", lim.MaxTextBytes)}
}

func openError(err error, lim Limits) error {
	msg := err.Error()
	if errors.Is(err, excelize.ErrWorkbookFileFormat) {
		msg = "not an .xlsx spreadsheet"
	} else if strings.Contains(msg, "unzip size") {
		msg = fmt.Sprintf("the spreadsheet inflates to more than %d bytes", lim.MaxUnzipBytes)
	}
	return &Error{Msg: msg}
}

func trimTail(cells []string) []string {
	for len(cells) > 0 && strings.TrimSpace(cells[len(cells)-1]) == "" {
		cells = cells[:len(cells)-1]
	}
	return cells
}
