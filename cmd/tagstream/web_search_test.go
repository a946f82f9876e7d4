package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleSearchPage: in a real browser, the search page finds a
// document by a Hindi word of its title, pages, puts a bad query's
// message by its field, keeps the search in the address, and downloads
// the search as CSV, saying so when the export is as long as one export
// may be (here 3 rows) and may hold fewer than the matches.
func TestConsoleSearchPage(t *testing.T) {
	cfg := testConfig(t)
	cfg.ExportRows = 3
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("alice@example.com")
	docs := []map[string]any{{"file_path": "b.pdf", "title": "हिंदी रेलवे परिपत्र"}}
	for i := range 3 {
		docs = append(docs, map[string]any{"file_path": "a.pdf", "title": "Railway circular " + string(rune('A'+i))})
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"model_name": "builtin/keywords"}}, http.StatusOK)["job_id"].(string)
	e.waitStatus(u, job, 30*time.Second, "completed")

	p := newPage(t, 1280, 900)
	p.do("open the console", 10*time.Second, chromedp.Navigate(consoleURL(t, e)+"/#/login"))
	p.waitFor("sign-in form", `document.body.dataset.ready === "1" && !document.querySelector("#view-auth").hidden`, `location.hash`, 10*time.Second)
	p.do("log in", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#login-email"), u.email),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct-horse-1"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	p.waitFor("logged in", `!document.querySelector("#view-new").hidden`, `document.querySelector("#alert-text").textContent`, 10*time.Second)

	p.do("open search", 5*time.Second, chromedp.Click(chromedp.CSS(`[data-nav=search]`)))
	p.waitFor("every document listed", `document.querySelectorAll("#search-results tbody tr").length === 4`, `document.querySelector("#view-search").textContent`, 10*time.Second)
	p.do("search a Hindi word", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#search-q"), "परिपत्र"),
		chromedp.Click(chromedp.CSS("#search-form button[type=submit]")))
	p.waitFor("one Hindi document", `document.querySelectorAll("#search-results tbody tr").length === 1 && location.hash.startsWith("#/search/q=")`,
		`document.querySelector("#search-results").textContent + " " + location.hash`, 10*time.Second)
	if got := p.text("#search-results tbody td"); got != "हिंदी रेलवे परिपत्र" {
		t.Fatalf("found %q", got)
	}
	p.keepShot("search")

	// A page of 50 shows everything here; "More" appears only with a cursor.
	if eval[bool](p, `!document.querySelector("#search-more").hidden`) {
		t.Fatal("More offered with nothing more to show")
	}

	eval[string](p, `(() => { document.querySelector("#search-q").value = "!!!"; return ""; })()`)
	p.do("search nothing searchable", 5*time.Second, chromedp.Click(chromedp.CSS("#search-form button[type=submit]")))
	p.waitFor("the error by its field", `(document.querySelector("#search-form .inline-error")||{}).textContent && document.activeElement.id === "search-q"`,
		`document.querySelector("#view-search").textContent`, 10*time.Second)

	eval[string](p, `(() => { document.querySelector("#search-q").value = ""; document.querySelector("#search-since").value = "yesterday"; return ""; })()`)
	p.do("search from no date", 5*time.Second, chromedp.Click(chromedp.CSS("#search-form button[type=submit]")))
	p.waitFor("the date's error by its field", `/since/.test((document.querySelector("#search-form .inline-error")||{}).textContent) && document.activeElement.id === "search-since"`,
		`document.querySelector("#view-search").textContent`, 10*time.Second)

	eval[string](p, `(() => { location.hash = "#/search/q=railway"; return ""; })()`)
	p.waitFor("the search in the address runs", `document.querySelectorAll("#search-results tbody tr").length === 3 && document.querySelector("#search-q").value === "railway"`,
		`document.querySelector("#view-search").textContent`, 10*time.Second)
	p.do("export", 10*time.Second, chromedp.Click(chromedp.CSS("#search-csv")))
	csv := string(p.waitDownload("documents.csv", 10*time.Second))
	if strings.Count(csv, "\n") != 4 || !strings.Contains(csv, "Railway circular A") || strings.Contains(csv, "हिंदी") {
		t.Fatalf("exported CSV:\n%s", csv)
	}
	p.waitFor("the export says it may stop short", `/first 3 documents/.test((document.querySelector("#search-csv-short")||{}).textContent)`,
		`document.querySelector("#search-csv-out").textContent`, 5*time.Second)
	if err := os.Remove(filepath.Join(p.downloads, "documents.csv")); err != nil {
		t.Fatal(err)
	}
	eval[string](p, `(() => { location.hash = "#/search/q=" + encodeURIComponent("परिपत्र"); return ""; })()`)
	p.waitFor("the Hindi search again", `document.querySelectorAll("#search-results tbody tr").length === 1`,
		`document.querySelector("#view-search").textContent`, 10*time.Second)
	p.do("export one document", 10*time.Second, chromedp.Click(chromedp.CSS("#search-csv")))
	if csv := string(p.waitDownload("documents.csv", 10*time.Second)); strings.Count(csv, "\n") != 2 || !strings.Contains(csv, "हिंदी रेलवे परिपत्र") {
		t.Fatalf("exported CSV:\n%s", csv)
	}
	p.waitFor("the new link", `/documents.csv/.test((document.querySelector("#search-csv-link")||{}).textContent)`,
		`document.querySelector("#search-csv-out").textContent`, 5*time.Second)
	if eval[bool](p, `!!document.querySelector("#search-csv-short")`) {
		t.Fatal("a one-document export says it may stop short")
	}
	if probs := p.problems(); len(probs) > 0 {
		t.Fatalf("browser console: %v", probs)
	}
}
