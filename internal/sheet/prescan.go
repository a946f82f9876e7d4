package sheet

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tagstream/tagstream/internal/capread"
	"golang.org/x/net/html/charset"
)

// prescan bounds what excelize will build before it builds it. A cell
// naming a shared string is a copy of that string once read, and excelize
// reads a whole row at once: one row of 16,384 cells naming one 60 KB
// string took 525 MB from a 50 KB file before any budget was checked. So
// every worksheet's rows are summed here from the raw XML, each cell at
// its shared string's length, against the row's and the file's budgets.
// Inline text is not counted: its bytes are in the XML, which the inflate
// bound covers.
//
// It also checks that the cells' text is text. XML that declares no
// encoding must be UTF-8; excelize read a cell of Windows-1252 bytes as
// an empty cell, silently, and a UTF-16 part (legal XML, which excelize
// cannot read) as an empty sheet. A declared encoding is decoded as
// excelize decodes it, so it is counted too: the scan used to stop at such
// a declaration, and a 46 KB workbook of shared strings declared
// windows-1252 took a gigabyte. XML the scan cannot read is refused rather
// than passed on unbounded.
func prescan(data []byte, lim Limits) error {
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil // not a zip: excelize says what is wrong
	}
	var ss sharedStrings
	ss.bad = -1
	for _, f := range z.File {
		if f.Name == "xl/sharedStrings.xml" {
			if ss, err = stringLengths(f, lim); err != nil {
				return err
			}
		}
	}
	sheets, err := worksheetParts(z, lim)
	if err != nil {
		return err
	}
	rowBudget := int64(lim.MaxColumns) * int64(lim.MaxCellBytes)
	var text int64
	for _, f := range z.File {
		if !sheets[f.Name] {
			continue
		}
		if err := scanRows(f, lim, ss, rowBudget, &text); err != nil {
			return err
		}
	}
	if ss.bad >= 0 {
		return &Error{Msg: fmt.Sprintf("shared string %d %s", ss.bad+1, notUTF8)}
	}
	return nil
}

// notUTF8 ends the refusal of a cell whose XML bytes are not UTF-8.
const notUTF8 = "is not UTF-8 text, and its XML declares no other encoding: open the file in a spreadsheet program and save it again as .xlsx"

// sharedStrings is the length of each shared string, in order, and the
// index of the first that is not UTF-8 (-1 if none; the lengths stop
// there).
type sharedStrings struct {
	lengths []int
	bad     int
}

// open reads a part of the archive inflated up to the XML bound, as XML
// decoded the way excelize decodes it. A part in UTF-16 (or UTF-32) is
// refused: excelize's XML decoder cannot read it.
func open(f *zip.File, lim Limits) (io.ReadCloser, *xml.Decoder, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, nil, &Error{Msg: fmt.Sprintf("the spreadsheet is damaged (%s: %v)", f.Name, err)}
	}
	r := bufio.NewReader(capread.New(rc, lim.MaxUnzipBytes, errInflated))
	if head, _ := r.Peek(2); bytes.Equal(head, []byte{0xff, 0xfe}) || bytes.Equal(head, []byte{0xfe, 0xff}) || bytes.Equal(head, []byte{0, 0}) {
		rc.Close()
		return nil, nil, &Error{Msg: fmt.Sprintf("the spreadsheet's %s is UTF-16 (or UTF-32) XML, which is not read: open the file in a spreadsheet program and save it again as .xlsx", f.Name)}
	}
	d := xml.NewDecoder(r)
	d.CharsetReader = charset.NewReaderLabel // excelize's
	return rc, d, nil
}

// scanError is the refusal of a part the scan cannot read; inCell names
// the cell being read ("cell B2", "column 2"; "" if none).
func scanError(f *zip.File, err error, row int, inCell string, lim Limits) error {
	if errors.Is(err, errInflated) {
		return &Error{Msg: fmt.Sprintf("the spreadsheet inflates to more than %d bytes", lim.MaxUnzipBytes)}
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) && se.Msg == "invalid UTF-8" {
		if inCell != "" {
			return &Error{Row: row, Msg: inCell + " " + notUTF8}
		}
		return &Error{Row: row, Msg: fmt.Sprintf("the spreadsheet's %s (line %d) %s", f.Name, se.Line, notUTF8)}
	}
	return &Error{Row: row, Msg: fmt.Sprintf("the spreadsheet is damaged (%s: %v)", f.Name, err)}
}

// stringLengths is the length of each shared string, in order.
func stringLengths(f *zip.File, lim Limits) (sharedStrings, error) {
	out := sharedStrings{bad: -1}
	rc, d, err := open(f, lim)
	if err != nil {
		return out, err
	}
	defer rc.Close()
	inT, inSI := false, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			var se *xml.SyntaxError
			if inSI && errors.As(err, &se) && se.Msg == "invalid UTF-8" {
				// Named by the first cell that shows it, if any.
				out.bad = len(out.lengths) - 1
				return out, nil
			}
			return out, scanError(f, err, 0, "", lim)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				out.lengths = append(out.lengths, 0)
				inSI = true
			case "t":
				inT = len(out.lengths) > 0
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inT = false
			case "si":
				inSI = false
			}
		case xml.CharData:
			if inT {
				out.lengths[len(out.lengths)-1] += len(t)
			}
		}
	}
}

// scanRows sums each row's shared-string cells of one worksheet, and
// refuses a cell whose text is not UTF-8 or names a shared string that is
// not.
func scanRows(f *zip.File, lim Limits, ss sharedStrings, rowBudget int64, text *int64) error {
	rc, d, err := open(f, lim)
	if err != nil {
		return err
	}
	defer rc.Close()
	var row int64
	rowNo, colNo, shared, inV, cell := 0, 0, false, false, ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return scanError(f, err, rowNo, cell, lim)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "row":
				row, rowNo, colNo = 0, rowNo+1, 0
				for _, a := range t.Attr {
					if a.Name.Local == "r" {
						if n, err := strconv.Atoi(a.Value); err == nil {
							rowNo = n
						}
					}
				}
			case "c":
				colNo++
				shared, cell = false, "column "+strconv.Itoa(colNo)
				for _, a := range t.Attr {
					if a.Name.Local == "t" && a.Value == "s" {
						shared = true
					}
					if a.Name.Local == "r" && a.Value != "" && len(a.Value) < 16 {
						cell = "cell " + a.Value
					}
				}
			case "v":
				inV = shared
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "v":
				inV = false
			case "c":
				cell = ""
			}
		case xml.CharData:
			if !inV {
				continue
			}
			i, err := strconv.Atoi(strings.TrimSpace(string(t)))
			if err != nil || i < 0 {
				continue
			}
			if i == ss.bad {
				return &Error{Row: rowNo, Msg: cell + " " + notUTF8}
			}
			if i >= len(ss.lengths) {
				continue
			}
			row += int64(ss.lengths[i])
			*text += int64(ss.lengths[i])
			if row > rowBudget {
				return &Error{Row: rowNo, Msg: fmt.Sprintf("the row's cells hold more than %d bytes of text (%d columns of %d bytes)", rowBudget, lim.MaxColumns, lim.MaxCellBytes)}
			}
			if *text > lim.MaxTextBytes {
				return textBudgetError(rowNo, lim)
			}
		}
	}
}

// errInflated is a part inflating past MaxUnzipBytes.
var errInflated = errors.New("inflated past the bound")
