package sheet

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// prescan bounds what excelize will build before it builds it. A cell
// naming a shared string is a copy of that string once read, and excelize
// reads a whole row at once: one row of 16,384 cells naming one 60 KB
// string took 525 MB from a 50 KB file before any budget was checked. So
// every worksheet's rows are summed here from the raw XML, each cell at
// its shared string's length, against the row's and the file's budgets.
// Inline text is not counted: its bytes are in the XML, which the inflate
// bound covers.
func prescan(data []byte, lim Limits) error {
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil // not a zip: excelize says what is wrong
	}
	var lengths []int
	for _, f := range z.File {
		if f.Name == "xl/sharedStrings.xml" {
			if lengths, err = stringLengths(f, lim); err != nil {
				return err
			}
		}
	}
	if lengths == nil {
		return nil
	}
	rowBudget := int64(lim.MaxColumns) * int64(lim.MaxCellBytes)
	var text int64
	for _, f := range z.File {
		if !strings.HasPrefix(f.Name, "xl/worksheets/") || !strings.HasSuffix(f.Name, ".xml") {
			continue
		}
		if err := scanRows(f, lim, lengths, rowBudget, &text); err != nil {
			return err
		}
	}
	return nil
}

// open reads a part of the archive inflated up to the XML bound.
func open(f *zip.File, lim Limits) (io.ReadCloser, io.Reader, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, nil, &Error{Msg: fmt.Sprintf("the spreadsheet is damaged (%s: %v)", f.Name, err)}
	}
	return rc, io.LimitReader(rc, lim.MaxUnzipBytes), nil
}

// stringLengths is the length of each shared string, in order.
func stringLengths(f *zip.File, lim Limits) ([]int, error) {
	rc, r, err := open(f, lim)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	d := xml.NewDecoder(r)
	var out []int
	inT := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, nil // excelize reports a damaged part
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				out = append(out, 0)
			case "t":
				inT = len(out) > 0
			}
		case xml.EndElement:
			if t.Name.Local == "t" {
				inT = false
			}
		case xml.CharData:
			if inT {
				out[len(out)-1] += len(t)
			}
		}
	}
}

// scanRows sums each row's shared-string cells of one worksheet.
func scanRows(f *zip.File, lim Limits, lengths []int, rowBudget int64, text *int64) error {
	rc, r, err := open(f, lim)
	if err != nil {
		return err
	}
	defer rc.Close()
	d := xml.NewDecoder(r)
	var row int64
	rowNo, shared, inV := 0, false, false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil // EOF, or damage excelize reports
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "row":
				row, rowNo = 0, rowNo+1
				for _, a := range t.Attr {
					if a.Name.Local == "r" {
						if n, err := strconv.Atoi(a.Value); err == nil {
							rowNo = n
						}
					}
				}
			case "c":
				shared = false
				for _, a := range t.Attr {
					if a.Name.Local == "t" && a.Value == "s" {
						shared = true
					}
				}
			case "v":
				inV = shared
			}
		case xml.EndElement:
			if t.Name.Local == "v" {
				inV = false
			}
		case xml.CharData:
			if !inV {
				continue
			}
			i, err := strconv.Atoi(strings.TrimSpace(string(t)))
			if err != nil || i < 0 || i >= len(lengths) {
				continue
			}
			row += int64(lengths[i])
			*text += int64(lengths[i])
			if row > rowBudget {
				return &Error{Row: rowNo, Msg: fmt.Sprintf("the row's cells hold more than %d bytes of text (%d columns of %d bytes)", rowBudget, lim.MaxColumns, lim.MaxCellBytes)}
			}
			if *text > lim.MaxTextBytes {
				return textBudgetError(rowNo, lim)
			}
		}
	}
}
