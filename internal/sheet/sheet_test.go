package sheet

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func build(t testing.TB, rows ...[]string) []byte {
	t.Helper()
	w, err := NewWriter("Documents")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := w.Finish(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWriteThenReadKeepsTextAndPadsShortRows(t *testing.T) {
	data := build(t,
		[]string{"file_path", "title", "notes"},
		[]string{"https://example.com/a.pdf", "=HYPERLINK(\"x\")", "ünïcode, \"quoted\""},
		[]string{},
		[]string{"b.pdf", "B"},
	)
	if !IsXLSX("docs.bin", data[:8]) || !IsXLSX("docs.XLSX", nil) || IsXLSX("docs.csv", []byte("a,b\n")) {
		t.Fatal("IsXLSX")
	}
	header, recs, err := ReadXLSX(bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(header, []string{"file_path", "title", "notes"}) {
		t.Fatalf("header %q", header)
	}
	want := [][]string{{"https://example.com/a.pdf", "=HYPERLINK(\"x\")", "ünïcode, \"quoted\""}, {"b.pdf", "B", ""}}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("records %q, want %q", recs, want)
	}
}

func TestReadBudgets(t *testing.T) {
	wide := make([]string, 12)
	for i := range wide {
		wide[i] = fmt.Sprint("c", i)
	}
	rows := [][]string{{"file_path"}}
	for i := range 6 {
		rows = append(rows, []string{fmt.Sprint(i, ".pdf")})
	}
	for _, c := range []struct {
		name string
		data []byte
		lim  Limits
		row  int
		msg  string
	}{
		{"columns", build(t, []string{"a"}, wide), Limits{MaxColumns: 10}, 2, "12 columns"},
		{"rows", build(t, rows...), Limits{MaxRows: 5}, 7, "more than 5 documents"},
		{"bytes", build(t, rows...), Limits{MaxBytes: 1000}, 0, "larger than 1000 bytes"},
		{"cell", build(t, []string{"a"}, []string{strings.Repeat("x", 300)}), Limits{MaxCellBytes: 200}, 2, "more than 200 bytes"},
		{"ragged", build(t, []string{"a"}, []string{"1", "2"}), Limits{}, 2, "header has 1"},
		{"empty", build(t), Limits{}, 0, "empty"},
		{"not zip", []byte("file_path\na.pdf\n"), Limits{}, 0, "not an .xlsx"},
		{"zip, not xlsx", plainZip(t), Limits{}, 0, ""},
		{"bomb", bomb(t), Limits{MaxUnzipBytes: 1 << 20}, 0, "inflates to more than"},
		{"text", build(t, rows...), Limits{MaxTextBytes: 30}, 6, "more than 30 bytes of text"},
		// 200 columns of one 60 KB shared string, 1,000 rows: about 12 GB of
		// cells from 10 KB of zip (this crashed the server, out of memory).
		{"shared strings", sharedStringBomb(t, 200, 200, 1000, 60000), Limits{}, 7, "bytes of text in all"},
	} {
		_, _, err := ReadXLSX(bytes.NewReader(c.data), c.lim)
		var se *Error
		if !errors.As(err, &se) || se.Row != c.row || !strings.Contains(se.Error(), c.msg) {
			t.Errorf("%s: %v, want row %d %q", c.name, err, c.row, c.msg)
		}
	}
}

func plainZip(t testing.TB) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, _ := z.Create("hello.txt")
	_, _ = w.Write([]byte("hello"))
	_ = z.Close()
	return b.Bytes()
}

// bomb is a real workbook whose sheet inflates from a few KB to 64 MB.
func bomb(t testing.TB) []byte {
	src, err := zip.NewReader(bytes.NewReader(build(t, []string{"a"})), int64(len(build(t, []string{"a"}))))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, f := range src.File {
		w, _ := z.Create(f.Name)
		if strings.HasPrefix(f.Name, "xl/worksheets/") {
			pad := bytes.Repeat([]byte(" "), 1<<20)
			_, _ = w.Write([]byte(`<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`))
			for range 64 {
				_, _ = w.Write(pad)
			}
			_, _ = w.Write([]byte(`<sheetData/></worksheet>`))
			continue
		}
		r, _ := f.Open()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r)
		_, _ = w.Write(buf.Bytes())
	}
	_ = z.Close()
	if b.Len() > 1<<20 {
		t.Fatalf("bomb is %d bytes", b.Len())
	}
	return b.Bytes()
}

// One row of 16,384 cells naming one 60 KB shared string (a 50 KB file)
// is refused before it is read: excelize builds a whole row at once, and
// this one took 525 MB before any budget was checked.
func TestOneWideRowOfSharedStringsIsRefusedUnread(t *testing.T) {
	data := sharedStringBomb(t, 1, 16384, 1, 60000)
	if got := refuseRow2(t, data); got > 64<<20 {
		t.Errorf("refusing it allocated %d MB", got>>20)
	}
}

// sharedStringBomb is a workbook whose cells all name one long shared
// string: small zipped and inflated, huge once every cell is a copy.
func sharedStringBomb(t testing.TB, headerCols, cols, rows, strlen int) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	put := func(name, body string) {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(body))
	}
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
	const rel = `http://schemas.openxmlformats.org/officeDocument/2006/relationships`
	put("[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`+
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>`+
		`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>`+
		`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`+
		`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`)
	put("_rels/.rels", `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	put("xl/workbook.xml", `<?xml version="1.0"?><workbook `+ns+` xmlns:r="`+rel+`"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	put("xl/_rels/workbook.xml.rels", `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`/worksheet" Target="worksheets/sheet1.xml"/>`+
		`<Relationship Id="rId2" Type="`+rel+`/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)
	var sst, sheet strings.Builder
	fmt.Fprintf(&sst, `<?xml version="1.0"?><sst %s>`, ns)
	fmt.Fprintf(&sheet, `<?xml version="1.0"?><worksheet %s><sheetData><row r="1">`, ns)
	for i := range cols {
		fmt.Fprintf(&sst, `<si><t>h%d</t></si>`, i)
		if i < headerCols {
			fmt.Fprintf(&sheet, `<c t="s"><v>%d</v></c>`, i)
		}
	}
	fmt.Fprintf(&sst, `<si><t>%s</t></si></sst>`, strings.Repeat("x", strlen))
	put("xl/sharedStrings.xml", sst.String())
	sheet.WriteString(`</row>`)
	cells := strings.Repeat(fmt.Sprintf(`<c t="s"><v>%d</v></c>`, cols), cols)
	for range rows {
		sheet.WriteString(`<row>` + cells + `</row>`)
	}
	sheet.WriteString(`</sheetData></worksheet>`)
	put("xl/worksheets/sheet1.xml", sheet.String())
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func FuzzReadXLSX(f *testing.F) {
	f.Add(build(f, []string{"file_path", "title"}, []string{"a.pdf", "A"}))
	f.Add(plainZip(f))
	f.Add([]byte("PK\x03\x04junk"))
	// The scan's text checks: bytes that are not UTF-8, a declared
	// encoding, a UTF-16 part.
	f.Add(workbook(f, inlineSheet(`<?xml version="1.0"?>`, "Caf\xe9"), nil))
	f.Add(sharedBook(f, `<?xml version="1.0" encoding="windows-1252"?>`, "Caf\xe9"))
	f.Add(sharedBook(f, `<?xml version="1.0"?>`, "Caf\xe9"))
	f.Add(workbook(f, utf16LE(string(inlineSheet(`<?xml version="1.0" encoding="UTF-16"?>`, "x"))), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxBytes: 1 << 20, MaxUnzipBytes: 4 << 20, MaxRows: 50, MaxColumns: 20, MaxCellBytes: 1000}
		header, recs, err := ReadXLSX(bytes.NewReader(data), lim)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(header) == 0 || len(header) > 20 || len(recs) > 50 {
			t.Fatalf("budget broken: %d columns, %d rows", len(header), len(recs))
		}
		for _, r := range recs {
			if len(r) != len(header) {
				t.Fatalf("record of %d cells, header %d", len(r), len(header))
			}
		}
	})
}

// The same workbook with its sheet kept outside xl/worksheets (excelize
// follows the workbook's relationships wherever they point) is scanned
// and refused as well; it used to be read unscanned.
func TestASheetKeptElsewhereIsScannedToo(t *testing.T) {
	for _, target := range []string{"../data/s.xml", "/data/s.xml"} {
		refuseRow2(t, relocateSheet(t, sharedStringBomb(t, 1, 16384, 1, 60000), "data/s.xml", target))
	}
	// A well-formed workbook kept elsewhere still reads.
	data := relocateSheet(t, sharedStringBomb(t, 2, 2, 1, 10), "data/s.xml", "../data/s.xml")
	if _, _, err := ReadXLSX(bytes.NewReader(data), Limits{}); err != nil {
		t.Fatalf("a small workbook with its sheet elsewhere: %v", err)
	}
}

// refuseRow2 reads data, wants its row 2 refused for its text, and returns
// how many bytes reading it allocated.
func refuseRow2(t *testing.T, data []byte) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := ReadXLSX(bytes.NewReader(data), Limits{})
	runtime.ReadMemStats(&after)
	var se *Error
	if !errors.As(err, &se) || se.Row != 2 || !strings.Contains(se.Msg, "bytes of text") {
		t.Fatalf("%d KB workbook: %v, want row 2 refused for its text", len(data)>>10, err)
	}
	return after.TotalAlloc - before.TotalAlloc
}

// relocateSheet moves xl/worksheets/sheet1.xml to name and points the
// workbook's relationship at it with target.
func relocateSheet(t testing.TB, data []byte, name, target string) []byte {
	return rewriteZip(t, data, func(f string, body []byte) (string, []byte) {
		switch f {
		case "xl/worksheets/sheet1.xml":
			return name, body
		case "xl/_rels/workbook.xml.rels":
			return f, bytes.ReplaceAll(body, []byte(`Target="worksheets/sheet1.xml"`), []byte(`Target="`+target+`"`))
		case "[Content_Types].xml":
			return f, bytes.ReplaceAll(body, []byte(`/xl/worksheets/sheet1.xml`), []byte("/"+name))
		}
		return f, body
	})
}

// rewriteZip copies a zip, each entry's name and body through edit.
func rewriteZip(t testing.TB, data []byte, edit func(name string, body []byte) (string, []byte)) []byte {
	t.Helper()
	in, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, f := range in.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		name, body := edit(f.Name, body)
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(body)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
