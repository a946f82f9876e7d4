package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tagstream/tagstream/internal/httpapi"
	"github.com/tagstream/tagstream/internal/sheet"
	"github.com/tagstream/tagstream/internal/tagging"
)

// systemFields are the document fields a CSV column can be mapped to.
var systemFields = map[string]bool{"title": true, "file_path": true, "file_source_type": true, "description": true}

// autoMap is the column-name guesses used when a CSV has no file_path
// column and no --map was given, in order of preference per field.
var autoMap = []struct {
	field string
	names []string
}{
	{"file_path", []string{"file_path", "url", "pdf_url", "link", "path"}},
	{"title", []string{"title", "document_title", "name"}},
	{"description", []string{"description"}},
}

// readCSV reads a CSV whose first row names the columns and returns each
// further row as an object of columns. A row with a different number of
// fields is an error naming its line, because silently shifting or
// dropping cells would tag the wrong documents.
func readCSV(path string) ([]string, []map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s is empty; the first row must name the columns", path)
		}
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // Excel writes a UTF-8 byte-order mark
	}
	if err := cleanHeader(header, path+" line 1"); err != nil {
		return nil, nil, err
	}
	var docs []map[string]string
	for {
		rec, err := r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				return nil, nil, fmt.Errorf("%s line %d: %d fields, but the header has %d columns", path, pe.Line, len(rec), len(header))
			}
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, nil, fmt.Errorf("%s: %v", path, err)
		}
		doc := make(map[string]string, len(rec))
		for i, v := range rec {
			doc[header[i]] = v
		}
		docs = append(docs, doc)
	}
	if len(docs) == 0 {
		return nil, nil, fmt.Errorf("%s has a header but no documents", path)
	}
	return header, docs, nil
}

// cleanHeader trims the column names and refuses empty or repeated ones;
// where names the header's place in the file for the message.
func cleanHeader(header []string, where string) error {
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" {
			return fmt.Errorf("%s: column %d has no name", where, i+1)
		}
		if seen[h] {
			return fmt.Errorf("%s: column %q appears twice", where, h)
		}
		seen[h] = true
		header[i] = h
	}
	return nil
}

// readTable reads a document list: an .xlsx spreadsheet (by extension or
// its zip magic) or else a CSV.
func readTable(path string) ([]string, []map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	_ = f.Close()
	if sheet.IsXLSX(path, head[:n]) {
		return readXLSX(path)
	}
	return readCSV(path)
}

// readXLSX reads the first sheet of a spreadsheet under the same budgets
// the server applies: TAGSTREAM_MAX_DOCUMENTS rows, the results export's
// column budget, and a bound on the inflated size (zip bombs).
func readXLSX(path string) ([]string, []map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	header, recs, err := sheet.ReadXLSX(f, sheet.Limits{MaxBytes: maxSheetBytes, MaxUnzipBytes: 256 << 20, MaxRows: maxDocuments(),
		MaxColumns: httpapi.MaxCSVExtraColumns + len(systemFields)})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := cleanHeader(header, path+" header row"); err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("%s has a header but no documents", path)
	}
	docs := make([]map[string]string, len(recs))
	for i, rec := range recs {
		doc := make(map[string]string, len(rec))
		for j, v := range rec {
			doc[header[j]] = v
		}
		docs[i] = doc
	}
	return header, docs, nil
}

// maxSheetBytes bounds a spreadsheet read by the CLI.
const maxSheetBytes = 50 << 20

// maxDocuments is the server's documents-per-job limit as this machine
// configures it (TAGSTREAM_MAX_DOCUMENTS, default 10000); the server
// checks again with its own.
func maxDocuments() int {
	if n, err := strconv.Atoi(os.Getenv("TAGSTREAM_MAX_DOCUMENTS")); err == nil && n > 0 {
		return n
	}
	return 10000
}

// columnMapping turns --map 'COLUMN=field' flags into the API's
// column_mapping. Without flags and without a file_path column it guesses
// from common header names; the guesses are returned for a notice.
func columnMapping(header, flags []string) (map[string]string, []string, error) {
	have := map[string]bool{}
	for _, h := range header {
		have[h] = true
	}
	m := map[string]string{}
	for _, f := range flags {
		i := strings.LastIndex(f, "=") // column names may contain '=', fields never do
		if i <= 0 {
			return nil, nil, fmt.Errorf("--map %q: want 'COLUMN=field'", f)
		}
		col, field := strings.TrimSpace(f[:i]), strings.TrimSpace(f[i+1:])
		if !systemFields[field] {
			return nil, nil, fmt.Errorf("--map %q: field must be one of %s", f, strings.Join(sortedKeys(systemFields), ", "))
		}
		if !have[col] {
			return nil, nil, fmt.Errorf("--map %q: the CSV has no column %q (columns: %s)", f, col, strings.Join(header, ", "))
		}
		m[col] = field
	}
	if len(flags) > 0 || have["file_path"] {
		return m, nil, nil
	}
	lower := map[string]string{}
	for _, h := range header {
		if _, dup := lower[strings.ToLower(h)]; !dup {
			lower[strings.ToLower(h)] = h
		}
	}
	var notes []string
	for _, a := range autoMap {
		for _, name := range a.names {
			col, ok := lower[name]
			if !ok {
				continue
			}
			if col != a.field { // a column already named like the field needs no mapping
				m[col] = a.field
				notes = append(notes, fmt.Sprintf("%q -> %s", col, a.field))
			}
			break
		}
	}
	if !slices.Contains(slices.Collect(maps.Values(m)), "file_path") {
		return nil, nil, fmt.Errorf("the CSV has no file_path column and none of its columns (%s) looks like one; use --map 'COLUMN=file_path'", strings.Join(header, ", "))
	}
	return m, notes, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// readWords reads an exclusion list file with the one parser of the
// format (internal/tagging), which the console reaches through the API.
func readWords(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Size() > tagging.MaxExclusionListBytes {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed", path, info.Size(), tagging.MaxExclusionListBytes)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	words, err := tagging.ParseExclusionList(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%s %v", path, err)
	}
	return words, nil
}
