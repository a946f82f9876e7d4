package main

import (
	"os"
	"strings"

	"github.com/tagstream/tagstream/internal/csvin"
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

// columnMapping turns --map 'COLUMN=field' flags into the API's
// column_mapping; fields they leave out are auto-mapped by the console's
// rules. The guesses are returned for a notice.
func columnMapping(header, flags []string) (map[string]string, []string, error) {
	return csvin.Mapping(header, flags)
}

// readWords reads exclusion words: one word or phrase per line, blank
// lines and lines starting with '#' skipped.
func readWords(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff")); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, nil
}
