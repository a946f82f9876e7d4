package sheet

import (
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
)

// Writer writes one sheet row by row with excelize's StreamWriter, which
// keeps only a bounded buffer in memory (the rest spills to a temporary
// file) however many rows there are.
type Writer struct {
	f   *excelize.File
	sw  *excelize.StreamWriter
	row int
}

// NewWriter starts a workbook whose only sheet is named sheet.
func NewWriter(sheet string) (*Writer, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		_ = f.Close()
		return nil, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &Writer{f: f, sw: sw}, nil
}

// WriteRow appends a row of text cells. Text is stored as text: a cell
// becomes a formula only through excelize's formula API, never from its
// value (the caller still defuses leading '=', as for CSV, since users
// copy cells between files).
func (w *Writer) WriteRow(cells []string) error {
	w.row++
	vals := make([]any, len(cells))
	for i, c := range cells {
		// A spreadsheet cell holds at most 32767 characters.
		if r := []rune(c); len(r) > excelize.TotalCellChars {
			c = string(r[:excelize.TotalCellChars])
		}
		vals[i] = c
	}
	cell, err := excelize.CoordinatesToCellName(1, w.row)
	if err != nil {
		return err
	}
	return w.sw.SetRow(cell, vals)
}

// Finish writes the workbook to out and frees its temporary files.
func (w *Writer) Finish(out io.Writer) error {
	defer w.f.Close()
	if err := w.sw.Flush(); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	return w.f.Write(out)
}

// Close frees the workbook without writing it.
func (w *Writer) Close() error { return w.f.Close() }
