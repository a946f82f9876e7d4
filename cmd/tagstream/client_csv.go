package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/tagstream/tagstream/internal/csvin"
	"github.com/tagstream/tagstream/internal/httpapi"
	"github.com/tagstream/tagstream/internal/sheet"
	"github.com/tagstream/tagstream/internal/tagging"
)

// readCSV reads a batch CSV with the reader the console's rules share
// (internal/csvin): separator detection, BOM, errors naming file lines.
// It returns the columns in file order, the rows, and each row's line.
func readCSV(path string) ([]string, []map[string]string, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	t, err := csvin.Read(f, path)
	if err != nil {
		return nil, nil, nil, err
	}
	return t.Header, t.Maps(), t.Lines, nil
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
// its zip magic) or else a CSV. lines is each row's line in a CSV (nil
// for a spreadsheet, whose row i is on sheet row i+2).
func readTable(path string) (header []string, docs []map[string]string, lines []int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	_ = f.Close()
	if sheet.IsXLSX(path, head[:n]) {
		header, docs, err = readXLSX(path)
		return header, docs, nil, err
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
		MaxColumns: httpapi.MaxCSVExtraColumns + len(csvin.SystemFields)})
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
// column_mapping; fields they leave out are auto-mapped by the console's
// rules. The guesses are returned for a notice.
func columnMapping(header, flags []string) (map[string]string, []string, error) {
	return csvin.Mapping(header, flags)
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
