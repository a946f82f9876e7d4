package sheet

import (
	"archive/zip"
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
)

// workbook is a one-sheet .xlsx of the given worksheet XML and, unless
// nil, shared strings XML.
func workbook(t testing.TB, sheetXML, sst []byte) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	put := func(name string, body []byte) {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(body)
	}
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
	const rel = `http://schemas.openxmlformats.org/officeDocument/2006/relationships`
	put("[Content_Types].xml", []byte(`<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`+
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>`+
		`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>`+
		`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`+
		`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`))
	put("_rels/.rels", []byte(`<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`/officeDocument" Target="xl/workbook.xml"/></Relationships>`))
	put("xl/workbook.xml", []byte(`<?xml version="1.0"?><workbook `+ns+` xmlns:r="`+rel+`"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`))
	put("xl/_rels/workbook.xml.rels", []byte(`<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`/worksheet" Target="worksheets/sheet1.xml"/>`+
		`<Relationship Id="rId2" Type="`+rel+`/sharedStrings" Target="sharedStrings.xml"/></Relationships>`))
	if sst != nil {
		put("xl/sharedStrings.xml", sst)
	}
	put("xl/worksheets/sheet1.xml", sheetXML)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const mainNS = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`

// inlineSheet is a header (file_path, title) and one row whose title is v.
func inlineSheet(decl, v string) []byte {
	return []byte(decl + `<worksheet ` + mainNS + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>file_path</t></is></c><c r="B1" t="inlineStr"><is><t>title</t></is></c></row>` +
		`<row r="2"><c r="A2" t="inlineStr"><is><t>a.pdf</t></is></c><c r="B2" t="inlineStr"><is><t>` + v + `</t></is></c></row></sheetData></worksheet>`)
}

// sharedSheet is the same through shared strings.
func sharedSheet(decl, v string) ([]byte, []byte) {
	return []byte(`<?xml version="1.0"?><worksheet ` + mainNS + `><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>` +
			`<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row></sheetData></worksheet>`),
		[]byte(decl + `<sst ` + mainNS + `><si><t>file_path</t></si><si><t>title</t></si><si><t>a.pdf</t></si><si><t>` + v + `</t></si></sst>`)
}

func sharedBook(t testing.TB, decl, v string) []byte {
	sheetXML, sst := sharedSheet(decl, v)
	return workbook(t, sheetXML, sst)
}

func utf16LE(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

// A cell of Windows-1252 bytes in XML that declares no encoding was read
// as an empty cell, silently (inline text), or as a damaged row 1 (a
// shared string); now either is refused naming its row and cell. XML that
// declares its encoding is read as excelize reads it.
func TestReadRefusesCellsThatAreNotUTF8(t *testing.T) {
	const plain, latin = `<?xml version="1.0"?>`, `<?xml version="1.0" encoding="windows-1252"?>`
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"inline", workbook(t, inlineSheet(plain, "Caf\xe9"), nil)},
		{"shared", sharedBook(t, plain, "Caf\xe9")},
	} {
		_, recs, err := ReadXLSX(bytes.NewReader(tc.data), Limits{})
		var se *Error
		if !errors.As(err, &se) || se.Row != 2 || !strings.HasPrefix(se.Msg, "cell B2 is not UTF-8 text") || !strings.Contains(se.Msg, "save it again") {
			t.Errorf("%s: %q %v, want row 2 cell B2 refused", tc.name, recs, err)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"inline", workbook(t, inlineSheet(latin, "Caf\xe9"), nil)},
		{"shared", sharedBook(t, latin, "Caf\xe9")},
	} {
		_, recs, err := ReadXLSX(bytes.NewReader(tc.data), Limits{})
		if err != nil || !reflect.DeepEqual(recs, [][]string{{"a.pdf", "Café"}}) {
			t.Errorf("declared windows-1252, %s: %q %v", tc.name, recs, err)
		}
	}
}

// A UTF-16 part (legal XML, which excelize cannot read) was an "empty"
// sheet or a damaged row 1; now the refusal names the encoding.
func TestReadRefusesUTF16Parts(t *testing.T) {
	const decl = `<?xml version="1.0" encoding="UTF-16"?>`
	sheetXML, sst := sharedSheet(decl, "Café")
	for name, data := range map[string][]byte{
		"worksheet":      workbook(t, utf16LE(string(inlineSheet(decl, "Café"))), nil),
		"shared strings": workbook(t, sheetXML, utf16LE(string(sst))),
	} {
		_, _, err := ReadXLSX(bytes.NewReader(data), Limits{})
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "is UTF-16 (or UTF-32) XML, which is not read") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The shared-string budget held only for XML that declared no encoding:
// the scan stopped at a declaration it could not decode, and a 46 KB
// workbook declaring windows-1252 took a gigabyte to refuse.
func TestDeclaredEncodingDoesNotEscapeTheBudget(t *testing.T) {
	data := rewriteZip(t, sharedStringBomb(t, 1, 16384, 1, 60000), func(name string, body []byte) (string, []byte) {
		return name, bytes.ReplaceAll(body, []byte(`<?xml version="1.0"?>`), []byte(`<?xml version="1.0" encoding="windows-1252"?>`))
	})
	if got := refuseRow2(t, data); got > 64<<20 {
		t.Errorf("refusing it allocated %d MB", got>>20)
	}
}
