package csvin

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
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

// FuzzRead: any bytes give a table or an error, never a panic, every row
// has as many cells as the header, and every cell is UTF-8 without a NUL
// (however the file was encoded).
func FuzzRead(f *testing.F) {
	f.Add([]byte("\ufeffurl;name\na.pdf;\"x\ny\"\n"))
	f.Add([]byte("a\tb\n1\t2\n"))
	f.Add([]byte("url,title\na.pdf,Caf\xe9\n"))
	f.Add(utf16With("url\ttitle\r\na.pdf\tCafé 😀\r\n", false))
	f.Add(utf16With("url;title\n\"a\n.pdf\";T\n", true))
	f.Add(append(utf16With("url\na", false), 0x3d, 0xd8))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Read(strings.NewReader(string(b)), "f.csv")
		if err != nil {
			return
		}
		for i, r := range tab.Rows {
			if len(r) != len(tab.Header) || tab.Line(i) < 2 {
				t.Fatalf("row %d: %d cells for %d columns, line %d", i, len(r), len(tab.Header), tab.Line(i))
			}
			for _, c := range append(r, tab.Header...) {
				if !utf8.ValidString(c) || strings.IndexByte(c, 0) >= 0 {
					t.Fatalf("row %d: cell %q is not UTF-8 text", i, c)
				}
			}
		}
	})
}

// FuzzReadUTF16: a text saved as UTF-16 (either byte order, with its
// mark) reads exactly as the same text saved as UTF-8: the same table, or
// an error on the same line.
func FuzzReadUTF16(f *testing.F) {
	f.Add("url\ttitle\r\na.pdf\tCafé 😀\r\n")
	f.Add("url;title\n\"a\n.pdf\";T\nb.pdf\n")
	f.Add("\ufeffurl,x\n\x00\n")
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // not a text UTF-16 could hold
		}
		want, werr := Read(strings.NewReader(s), "f.csv")
		for _, big := range []bool{false, true} {
			got, err := Read(bytes.NewReader(utf16With(s, big)), "f.csv")
			if (err == nil) != (werr == nil) {
				t.Fatalf("big endian %v: UTF-16 %v, UTF-8 %v", big, err, werr)
			}
			if err != nil {
				// Both name the same line, unless UTF-16 stopped at its
				// start: a NUL first reads as a UTF-32 byte-order mark.
				line := func(e error) string { m := e.Error(); return m[:strings.IndexAny(m+":,", ":,")] }
				if !strings.Contains(err.Error(), "UTF-32") && line(err) != line(werr) {
					t.Fatalf("big endian %v: UTF-16 %q, UTF-8 %q", big, err, werr)
				}
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("big endian %v: UTF-16 read %+v, UTF-8 %+v", big, got, want)
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

// utf16With encodes s as UTF-16 with a byte-order mark.
func utf16With(s string, bigEndian bool) []byte {
	out := []byte{0xff, 0xfe}
	if bigEndian {
		out = []byte{0xfe, 0xff}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

// A Windows-1252 file was read with each "é" as U+FFFD, into the job's
// titles; now it is an error naming the file, line and byte (of the line,
// after a UTF-8 byte-order mark), and saying
// how to save the file as UTF-8. So is a NUL (UTF-16 without its mark).
func TestReadRefusesTextThatIsNotUTF8(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"latin1", "Document URL,Title\ncircular-water.pdf,Caf\xe9 r\xe9sum\xe9\n", "latin1.csv line 2, byte 23: not UTF-8 text (byte 0xE9"},
		{"latin1 header", "\ufeffDocument URL,T\xeftre\na.pdf,A\n", "latin1.csv line 1, byte 15: not UTF-8"},
		{"latin1 quoted multi-line", "url,title\n\"a\nb.pdf\",\"x\n\x93q\x94\"\n", "latin1.csv line 4, byte 1: not UTF-8 text (byte 0x93"},
		{"no BOM UTF-16", "u\x00r\x00l\x00\n\x00", "latin1.csv line 1, byte 2: a NUL byte"},
		{"UTF-32", "\xff\xfe\x00\x00u\x00\x00\x00", "UTF-32"},
	} {
		_, err := Read(strings.NewReader(tc.text), "latin1.csv")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "save the file as UTF-8") && tc.name != "UTF-32" {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Excel's "Unicode text" is UTF-16 LE with a byte-order mark, tab
// separated: it was read as UTF-8 and failed on a phantom "line 3".
func TestReadDecodesUTF16WithAByteOrderMark(t *testing.T) {
	text := "Document URL\tTitle\r\ncircular-water.pdf\tCafé résumé 😀\r\n\"b\n.pdf\"\tB\r\n"
	for _, big := range []bool{false, true} {
		tab, err := Read(bytes.NewReader(utf16With(text, big)), "utf16.csv")
		if err != nil {
			t.Fatalf("big endian %v: %v", big, err)
		}
		if tab.Separator != '\t' || !slices.Equal(tab.Header, []string{"Document URL", "Title"}) || len(tab.Rows) != 2 ||
			tab.Rows[0][1] != "Café résumé 😀" || tab.Rows[1][0] != "b\n.pdf" || !slices.Equal(tab.Lines, []int{2, 3}) {
			t.Fatalf("big endian %v: %q %q lines %v sep %q", big, tab.Header, tab.Rows, tab.Lines, tab.Separator)
		}
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"odd byte", append(utf16With("url\na.pdf\n", false), 'x'), "utf16.csv line 3: not valid UTF-16 (the file ends in half a character)"},
		{"lone high surrogate", append(utf16With("url\na.pdf", false), 0x3d, 0xd8, '\n', 0), "utf16.csv line 2: not valid UTF-16 at byte 21 of the file (an unpaired surrogate 0xD83D)"},
		{"lone low surrogate", append(utf16With("url\n", true), 0xde, 0x00), "utf16.csv line 2: not valid UTF-16 at byte 11 of the file"},
		{"NUL", append(utf16With("url\n", false), 0, 0), "utf16.csv line 2: a NUL character at byte 11 of the file"},
	} {
		_, err := Read(bytes.NewReader(tc.raw), "utf16.csv")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// The budget holds for the decoded text: UTF-16 under MaxBytes may decode
// to half again as much UTF-8.
func TestTextBudgetCountsDecodedUTF16(t *testing.T) {
	raw := utf16With("url\n"+strings.Repeat("é", 600), false) // 1,208 bytes of UTF-16, 1,204 of UTF-8
	if _, err := Text(raw, "big.csv", 1210); err != nil {
		t.Fatal(err)
	}
	raw = utf16With("url\n"+strings.Repeat("中", 600), false) // 1,208 bytes of UTF-16, 1,804 of UTF-8
	if _, err := Text(raw, "big.csv", 1210); err == nil || !strings.Contains(err.Error(), "big.csv is larger than") {
		t.Fatalf("decoded past the budget: %v", err)
	}
}
