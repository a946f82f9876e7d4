package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if len(recs) != 2 || recs[0][col["file_path"]] != "docs/a.pdf" || recs[0][col["Pages"]] != "42" ||
		recs[1][col["title"]] != "'=Beta" || recs[1][col["Pages"]] != "7.5" || recs[0][col["status"]] != "success" {
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

	// Budgets and damage are one-line errors that name the row.
	t.Setenv("TAGSTREAM_MAX_DOCUMENTS", "1")
	failsWithOneLine(t, cli(t, "", "batch", "start", "--csv", book, "--map", "Document URL=file_path"), "row 4: more than 1 documents")
	failsWithOneLine(t, cli(t, "", "batch", "start", "--csv", clientFile(t, "bad.xlsx", "PK\x03\x04 not really")), "bad.xlsx")
}
