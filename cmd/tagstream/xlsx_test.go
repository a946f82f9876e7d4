package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chromedp/chromedp"
	"github.com/tagstream/tagstream/internal/sheet"
	"github.com/xuri/excelize/v2"
)

// userWorkbook is a spreadsheet as a user makes one: a header row with a
// leading blank row above it, a number column, a second sheet that is not
// read.
func userWorkbook(t *testing.T, dir, name string) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	_ = f.SetSheetName("Sheet1", "Docs")
	rows := [][]any{
		{"Document URL", "Name", "Pages"},
		{"docs/a.pdf", "Alpha", 42},
		{"docs/b.pdf", "=Beta", 7.5},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := f.SetSheetRow("Docs", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.NewSheet("Notes"); err != nil {
		t.Fatal(err)
	}
	_ = f.SetCellValue("Notes", "A1", "not documents")
	p := filepath.Join(dir, name)
	if err := f.SaveAs(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBatchStartReadsXLSXAndResultsExportAsXLSX(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	clientEnv(t)
	u := e.register("sheet@example.com")
	login(t, e.url, "sheet@example.com")
	dir := t.TempDir()
	book := userWorkbook(t, dir, "docs.xlsx")

	r := ok(t, "batch", "start", "--csv", book, "--map", "Document URL=file_path", "--map", "Name=title",
		"--model", "builtin/keywords", "--wait")
	if !strings.Contains(r.stdout, "completed: 2 tagged, 0 failed") {
		t.Fatalf("--wait output %q / %q", r.stdout, r.stderr)
	}
	job := jobIDFrom(t, r.stderr)

	req, _ := http.NewRequest("GET", e.url+"/api/batch/jobs/"+job+"/results?format=xlsx", nil)
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), job+"-results.xlsx") {
		t.Fatalf("export: %d %s", resp.StatusCode, resp.Header)
	}
	header, recs, err := sheet.ReadXLSX(bytes.NewReader(body), sheet.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	// Mapped columns keep the user's names in the export.
	if len(recs) != 2 || recs[0][col["Document URL"]] != "docs/a.pdf" || recs[0][col["Pages"]] != "42" ||
		recs[1][col["Name"]] != "'=Beta" || recs[1][col["Pages"]] != "7.5" || recs[0][col["status"]] != "success" {
		t.Fatalf("exported %q %q", header, recs)
	}

	// Told apart by its bytes too, whatever the name.
	raw, _ := os.ReadFile(book)
	renamed := filepath.Join(dir, "docs.dat")
	_ = os.WriteFile(renamed, raw, 0o600)
	r = ok(t, "batch", "start", "--csv", renamed, "--map", "Document URL=file_path", "--model", "builtin/keywords", "--json")
	var started struct {
		Total int `json:"total_documents"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &started); err != nil || started.Total != 2 {
		t.Fatalf("renamed workbook: %q %v", r.stdout, err)
	}

	// The console's reader: the same rows, and damage is a 400 on data.
	out := e.mustCall("POST", "/api/sheets/parse", u.token, map[string]any{"data": raw}, 200)
	if rows := out["rows"].([]any); len(rows) != 2 || rows[1].(map[string]any)["Name"] != "=Beta" || rows[0].(map[string]any)["Pages"] != "42" {
		t.Fatalf("sheets/parse: %v", out)
	}
	if st, out := e.call("POST", "/api/sheets/parse", u.token, map[string]any{"data": []byte("PK\x03\x04 junk")}); st != 400 || out["field"] != "data" {
		t.Fatalf("damaged sheet: %d %v", st, out)
	}

	// Budgets and damage are one-line errors that name the row.
	t.Setenv("TAGSTREAM_MAX_DOCUMENTS", "1")
	failsWithOneLine(t, cli(t, "", "batch", "start", "--csv", book, "--map", "Document URL=file_path"), "row 4: more than 1 documents")
	failsWithOneLine(t, cli(t, "", "batch", "start", "--csv", clientFile(t, "bad.xlsx", "PK\x03\x04 not really")), "bad.xlsx")
}

// The console's start form reads an .xlsx through the server's reader:
// its columns are detected and mapped like a CSV's, and the job starts.
func TestWebConsoleReadsXLSX(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("sheets@example.com")
	book := userWorkbook(t, t.TempDir(), "documents.xlsx")
	p := newPage(t, 1024, 768)
	p.signIn(e, u)
	p.do("upload the workbook", 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#csv-file"), []string{book}))
	p.waitFor("columns detected", `!document.querySelector("#mapping").hidden`,
		`document.querySelector("#csv-summary").textContent + " / " + document.querySelector("#alert-text").textContent`, 10*time.Second)
	if s := p.text("#csv-summary"); !strings.Contains(s, "2 rows, 3 columns") {
		t.Errorf("summary %q; want 2 rows and 3 columns", s)
	}
	if got := eval[string](p, `["file_path","title"].map(f => document.querySelector("#map-"+f).value).join("|")`); got != "Document URL|Name" {
		t.Errorf("auto-mapping = %q", got)
	}
	if got := p.text("#preview tbody tr:first-child"); !strings.Contains(got, "docs/a.pdf") || !strings.Contains(got, "42") {
		t.Errorf("preview row %q", got)
	}
	p.do("start", 10*time.Second,
		chromedp.SetValue(chromedp.CSS("#model"), "builtin/keywords"),
		chromedp.Click(chromedp.CSS("#start-btn")))
	p.waitFor("job page open", `!document.querySelector("#view-job").hidden && document.querySelector("#job-id").textContent.startsWith("batch-")`,
		`document.querySelector("#alert-text").textContent`, 10*time.Second)
	e.waitStatus(u, p.text("#job-id"), 30*time.Second, "completed")
	if bad := p.problems(); len(bad) > 0 {
		t.Errorf("page errors or CSP violations: %q", bad)
	}
}

// rewriteParts returns the workbook at path with every part passed through
// edit (a byte-level change excelize would not write).
func rewriteParts(t *testing.T, path string, edit func(name string, body []byte) []byte) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, f := range src.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		w, _ := z.Create(f.Name)
		_, _ = w.Write(edit(f.Name, body))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSpreadsheetTextThatIsNotUTF8IsRefused: a workbook whose XML holds a
// Windows-1252 "é" without declaring that encoding was read with the cell
// empty (inline text) or as a damaged row 1 (a shared string), and one
// whose sheet is UTF-16 XML as an empty sheet. Now both readers, the
// console's (POST /api/sheets/parse: 400 on data naming the row and cell)
// and the CLI's, refuse them saying why.
func TestSpreadsheetTextThatIsNotUTF8IsRefused(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	clientEnv(t)
	u := e.register("latin-sheet@example.com")
	login(t, e.url, "latin-sheet@example.com")
	dir := t.TempDir()
	f := excelize.NewFile()
	_ = f.SetSheetRow("Sheet1", "A1", &[]any{"Document URL", "Name"})
	_ = f.SetCellValue("Sheet1", "A2", "docs/a.pdf")
	_ = f.SetCellValue("Sheet1", "B2", "CafeMARK")
	_ = f.SetCellValue("Sheet1", "C3", "") // a row after it
	good := filepath.Join(dir, "good.xlsx")
	if err := f.SaveAs(good); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	latin := rewriteParts(t, good, func(_ string, body []byte) []byte {
		return bytes.ReplaceAll(body, []byte("CafeMARK"), []byte("Caf\xe9"))
	})
	utf16Sheet := rewriteParts(t, good, func(name string, body []byte) []byte {
		if !strings.HasPrefix(name, "xl/worksheets/") {
			return body
		}
		out := []byte{0xff, 0xfe}
		for _, u := range utf16.Encode([]rune(strings.Replace(string(body), `encoding="UTF-8"`, `encoding="UTF-16"`, 1))) {
			out = append(out, byte(u), byte(u>>8))
		}
		return out
	})
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"latin1", latin, "row 2: cell B2 is not UTF-8 text"},
		{"utf16", utf16Sheet, "the spreadsheet's xl/worksheets/sheet1.xml is UTF-16 (or UTF-32) XML, which is not read"},
	} {
		st, out := e.call("POST", "/api/sheets/parse", u.token, map[string]any{"data": tc.data})
		if detail, _ := out["detail"].(string); st != 400 || out["field"] != "data" || !strings.Contains(detail, tc.want) {
			t.Errorf("%s: sheets/parse %d %v, want 400 on data %q", tc.name, st, out, tc.want)
		}
		book := filepath.Join(dir, tc.name+".xlsx")
		if err := os.WriteFile(book, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		failsWithOneLine(t, cli(t, "", "batch", "start", "--csv", book, "--model", "builtin/keywords"), tc.name+".xlsx: "+tc.want)
	}
}
