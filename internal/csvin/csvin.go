// Package csvin reads the CSV of a batch the way both the CLI and the
// console do: a UTF-8 byte-order mark is dropped, UTF-16 with a
// byte-order mark is decoded, other bytes that are not UTF-8 are an error
// naming their line (see Text), the separator is the one
// of ',', ';' or tab that occurs most in the header line (outside quotes),
// and columns are auto-mapped to system fields by the rules in Rules. The
// console's JavaScript fetches Rules from GET /api/batch/column-rules, so
// there is one set of rules, kept here.
package csvin

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxBytes bounds the CSV read into memory, and again its text once
// decoded from UTF-16 (the server accepts at most 10,000 documents per
// job; 64 MiB is far beyond any such file).
const MaxBytes = 64 << 20

// Table is a CSV read in full: its columns in file order, and each data
// row with the file line it starts on (the header is line 1), which is
// the number a user sees in an editor and the one messages use.
type Table struct {
	Header    []string
	Rows      [][]string
	Lines     []int
	Separator rune
}

// Read reads a CSV whose first row names the columns. name is used in
// errors. A row with a different number of fields, an unnamed or repeated
// column is an error naming its line: shifting or dropping cells silently
// would tag the wrong documents.
func Read(r io.Reader, name string) (*Table, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(raw) > MaxBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, MaxBytes>>20)
	}
	if raw, err = Text(raw, name, MaxBytes); err != nil {
		return nil, err
	}
	sep := DetectSeparator(raw)
	cr := csv.NewReader(bytes.NewReader(raw))
	cr.Comma = sep
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s is empty; the first row must name the columns", name)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, fmt.Errorf("%s line 1: column %d has no name", name, i+1)
		}
		if seen[h] {
			return nil, fmt.Errorf("%s line 1: column %q appears twice", name, h)
		}
		seen[h] = true
		header[i] = h
	}
	t := &Table{Header: header, Separator: sep}
	for {
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				return nil, fmt.Errorf("%s line %d: %d fields, but the header has %d columns", name, pe.StartLine, len(rec), len(header))
			}
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		line, _ := cr.FieldPos(0)
		t.Rows = append(t.Rows, rec)
		t.Lines = append(t.Lines, line)
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("%s has a header but no documents", name)
	}
	return t, nil
}

// DetectSeparator picks the candidate that occurs most in the first line
// outside quotes (',' when none does), as the console does.
func DetectSeparator(b []byte) rune {
	count := map[rune]int{}
	quoted := false
	for _, c := range string(b) {
		if c == '"' {
			quoted = !quoted
		}
		if !quoted && (c == '\n' || c == '\r') {
			break
		}
		if !quoted {
			count[c]++
		}
	}
	best, n := ',', 0
	for _, s := range Separators {
		if count[s] > n {
			best, n = s, count[s]
		}
	}
	return best
}

// Separators are the candidates, in order of preference on a tie.
var Separators = []rune{',', ';', '\t'}

// Line is the file line of data row i (0-based), for messages.
func (t *Table) Line(i int) int {
	if i >= 0 && i < len(t.Lines) {
		return t.Lines[i]
	}
	return i + 2
}

// Maps returns each row as an object of columns.
func (t *Table) Maps() []map[string]string {
	out := make([]map[string]string, len(t.Rows))
	for i, rec := range t.Rows {
		m := make(map[string]string, len(rec))
		for j, v := range rec {
			m[t.Header[j]] = v
		}
		out[i] = m
	}
	return out
}

// Row is one document as a JSON object whose keys keep the file's column
// order (a Go map would sort them), so the server records that order.
type Row struct {
	Header []string
	Values []string
}

// MarshalJSON writes the row's columns in order.
func (r Row) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, h := range r.Header {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(h)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(r.Values[i])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Ordered returns the rows as Rows, for a request body.
func (t *Table) Ordered() []Row {
	out := make([]Row, len(t.Rows))
	for i, rec := range t.Rows {
		out[i] = Row{Header: t.Header, Values: rec}
	}
	return out
}
