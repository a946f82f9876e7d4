package csvin

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestMappingCases runs the shared table of header -> mapping cases; the
// console uses the same rules through GET /api/batch/column-rules.
func TestMappingCases(t *testing.T) {
	raw, err := os.ReadFile("testdata/mapping.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name    string
		Header  []string
		Flags   []string
		Mapping map[string]string
		Error   string
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		m, _, err := Mapping(tc.Header, tc.Flags)
		switch {
		case tc.Error != "":
			if err == nil || !strings.Contains(err.Error(), tc.Error) {
				t.Errorf("%s: err %v, want one containing %q", tc.Name, err, tc.Error)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.Name, err)
		case !maps.Equal(m, tc.Mapping):
			t.Errorf("%s: mapping %v, want %v", tc.Name, m, tc.Mapping)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"Document URL": "document_url", " PDF-Url ": "pdf_url", "__File__Path__": "file_path", "Título": "t_tulo"} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReadDetectsSeparatorAndBOMAndCountsFileLines: ';' and tab files from
// spreadsheets in other locales, a BOM, and rows numbered by file line,
// including after a quoted cell that spans lines.
func TestReadDetectsSeparatorAndBOMAndCountsFileLines(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		sep        rune
	}{
		{"comma", "\ufeffDocument URL,Name\na.pdf,A\n\"b,\n.pdf\",B\nc.pdf,C\n", ','},
		{"semicolon", "\ufeffDocument URL;Name\r\na.pdf;A\r\n\"b,\n.pdf\";B\r\nc.pdf;C\r\n", ';'},
		{"tab", "Document URL\tName\na.pdf\tA\n\"b,\n.pdf\"\tB\nc.pdf\tC\n", '\t'},
		{"semicolon with commas in quotes", "\"Document URL, full\";Name\na.pdf;A\n\"b,\n.pdf\";B\nc.pdf;C\n", ';'},
	} {
		tab, err := Read(strings.NewReader(tc.text), "docs.csv")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tab.Separator != tc.sep || len(tab.Rows) != 3 || tab.Rows[1][0] != "b,\n.pdf" || tab.Rows[2][1] != "C" {
			t.Fatalf("%s: sep %q rows %q", tc.name, tab.Separator, tab.Rows)
		}
		if !strings.HasPrefix(tab.Header[0], "Document URL") {
			t.Fatalf("%s: header %q (BOM kept?)", tc.name, tab.Header)
		}
		if !slices.Equal(tab.Lines, []int{2, 3, 5}) {
			t.Fatalf("%s: lines %v, want [2 3 5]", tc.name, tab.Lines)
		}
	}
	_, err := Read(strings.NewReader("url;name\na.pdf;A\nb.pdf\n"), "docs.csv")
	if err == nil || !strings.Contains(err.Error(), "docs.csv line 3") {
		t.Fatalf("short row: %v, want it named by its file line 3", err)
	}
}

func TestOrderedRowKeepsColumnOrder(t *testing.T) {
	b, err := json.Marshal(Row{Header: []string{"z", "a", "m\"q"}, Values: []string{"1", "2", "3"}})
	if err != nil || string(b) != `{"z":"1","a":"2","m\"q":"3"}` {
		t.Fatalf("%s %v", b, err)
	}
}

// FuzzRead: any bytes give a table or an error, never a panic, and every
// row has as many cells as the header.
func FuzzRead(f *testing.F) {
	f.Add([]byte("\ufeffurl;name\na.pdf;\"x\ny\"\n"))
	f.Add([]byte("a\tb\n1\t2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Read(strings.NewReader(string(b)), "f.csv")
		if err != nil {
			return
		}
		for i, r := range tab.Rows {
			if len(r) != len(tab.Header) || tab.Line(i) < 2 {
				t.Fatalf("row %d: %d cells for %d columns, line %d", i, len(r), len(tab.Header), tab.Line(i))
			}
		}
	})
}

// A message that lists the CSV's columns names the first 20 and counts the
// rest: a file of a million columns made a 9 MB error line.
func TestMappingMessagesListAtMost20Columns(t *testing.T) {
	header := make([]string, 100000)
	for i := range header {
		header[i] = "column_" + strings.Repeat("x", 10) + "_" + string(rune('a'+i%26))
	}
	for _, flags := range [][]string{nil, {"nosuch=file_path"}} {
		_, _, err := Mapping(header, flags)
		if err == nil {
			t.Fatalf("%v: no error for a header without a file_path column", flags)
		}
		if msg := err.Error(); len(msg) > 1000 || !strings.Contains(msg, header[0]) || !strings.Contains(msg, "and 99980 more") {
			t.Fatalf("%v: message of %d bytes: %.300s", flags, len(msg), msg)
		}
	}
}
