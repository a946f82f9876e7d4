package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chromedp/chromedp"
)

// TestWebConsoleCSVIsUTF8OrUTF16: the console read a CSV with
// file.text(), so a Windows-1252 "é" became U+FFFD in the rows it sent,
// and a UTF-16 file (Excel's "Unicode text") was one garbled column. It
// now decodes as the CLI does: the Latin-1 file is refused naming its
// line and byte, the UTF-16 one is read, tab separated, and starts a job.
func TestWebConsoleCSVIsUTF8OrUTF16(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("webtext@example.com")
	dir := t.TempDir()
	latin := filepath.Join(dir, "latin1.csv")
	_ = os.WriteFile(latin, []byte("Document URL,Title\ndocs/circular-water.pdf,Caf\xe9 r\xe9sum\xe9\n"), 0o600)
	raw := []byte{0xff, 0xfe}
	for _, c := range utf16.Encode([]rune("Document URL\tTitle\r\ndocs/circular-water.pdf\tCafé résumé\r\n")) {
		raw = append(raw, byte(c), byte(c>>8))
	}
	wide := filepath.Join(dir, "utf16.csv")
	_ = os.WriteFile(wide, raw, 0o600)

	p := newPage(t, 1024, 768)
	p.signIn(e, u)

	p.do("upload the Latin-1 CSV", 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#csv-file"), []string{latin}))
	p.waitFor("Latin-1 refused", `/not UTF-8/.test(document.querySelector("#csv-summary").textContent)`,
		`document.querySelector("#csv-summary").textContent`, 10*time.Second)
	if s := p.text("#csv-summary"); !strings.Contains(s, "latin1.csv line 2, byte 28: not UTF-8 text (byte 0xE9") || !strings.Contains(s, "save the file as UTF-8") {
		t.Errorf("summary %q", s)
	}
	if eval[bool](p, `!document.querySelector("#mapping").hidden`) {
		t.Error("the Latin-1 file's columns were shown for mapping")
	}

	p.do("upload the UTF-16 CSV", 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#csv-file"), []string{wide}))
	p.waitFor("columns detected", `!document.querySelector("#mapping").hidden`,
		`document.querySelector("#csv-summary").textContent + " / " + document.querySelector("#alert-text").textContent`, 10*time.Second)
	if s := p.text("#csv-summary"); !strings.Contains(s, "1 row, 2 columns") {
		t.Errorf("summary %q; want 1 row and 2 columns", s)
	}
	if got := p.text("#preview tbody tr:first-child"); !strings.Contains(got, "Café résumé") {
		t.Errorf("preview row %q", got)
	}
	p.do("start", 10*time.Second,
		chromedp.SetValue(chromedp.CSS("#model"), "builtin/keywords"),
		chromedp.Click(chromedp.CSS("#start-btn")))
	p.waitFor("job page open", `!document.querySelector("#view-job").hidden && document.querySelector("#job-id").textContent.startsWith("batch-")`,
		`document.querySelector("#alert-text").textContent`, 10*time.Second)
	job := p.text("#job-id")
	e.waitStatus(u, job, 30*time.Second, "completed")
	out := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, 200)
	if rows, _ := out["results"].([]any); len(rows) != 1 || rows[0].(map[string]any)["title"] != "Café résumé" {
		t.Errorf("results %v", out)
	}
}
