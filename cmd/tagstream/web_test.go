package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/tagstream/tagstream/internal/sheet"
)

// TestWebConsoleJourney drives the embedded console in headless chromium
// against a real in-process server: register, log out and in, upload a CSV
// and map its columns, start a builtin/keywords job, pause it while
// documents are held, resume it, watch it reach 100%, read the results,
// export them as CSV, read the audit trail, and check the layout at 360 px.
func TestWebConsoleJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	started := time.Now()
	// Documents wait at the gate so the pause is observable, and take a
	// little time each so progress moves in steps a user could see.
	tagger := &fakeTagger{delay: 100 * time.Millisecond}
	gate := make(chan struct{})
	tagger.setGate(gate)
	cfg := testConfig(t)
	cfg.LocalRoot = t.TempDir()
	const rows = 8
	var csv strings.Builder
	csv.WriteString("Doc Ref,Document Title,Department,notes\r\n")
	for i := range rows {
		path := filepath.Join(cfg.LocalRoot, fmt.Sprintf("doc-%d.pdf", i))
		if err := os.WriteFile(path, []byte("%PDF-1.4\n%%EOF\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		title := fmt.Sprintf("Paper %d", i)
		if i == 0 {
			title = `"Report, annual ""draft"""` // quoted field with a comma and escaped quotes
		}
		fmt.Fprintf(&csv, "%s,%s,dept-%d,\"line one\nline two\"\r\n", path, title, i%3)
	}
	csvFile := filepath.Join(t.TempDir(), "batch.csv")
	if err := os.WriteFile(csvFile, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	e := startEnv(t, cfg, tagger)
	base := consoleURL(t, e)
	p := newPage(t, 1280, 900)
	const email, password = "web-user@example.com", "correct-horse-1"

	p.do("open the console", 20*time.Second,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#register-form")))
	p.waitFor("console booted", `document.body.dataset.ready === "1"`, `document.body.outerHTML.slice(0, 300)`, 10*time.Second)

	// Keyboard: the first Tab lands on the skip link, with a visible outline.
	p.do("tab to the skip link", 5*time.Second, chromedp.KeyEvent(kb.Tab))
	if got := eval[string](p, `document.activeElement.className + "|" + getComputedStyle(document.activeElement).outlineStyle`); !strings.HasPrefix(got, "skip|") || strings.HasSuffix(got, "|none") {
		t.Errorf("first Tab focused %q; want the skip link with a visible outline", got)
	}

	// Register (which logs in), log out, log in again.
	p.do("register", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#reg-email"), email),
		chromedp.SendKeys(chromedp.CSS("#reg-password"), password),
		chromedp.Click(chromedp.CSS("#register-form button[type=submit]")))
	p.waitFor("logged in after registering", `!document.querySelector("#view-new").hidden`, `document.querySelector("#alert-text").textContent`, 10*time.Second)
	if eval[bool](p, `!!sessionStorage.getItem("tagstream.session")`) || !eval[bool](p, `!!localStorage.getItem("tagstream.session")`) {
		t.Errorf("the session must live in localStorage (shared by tabs), nothing in sessionStorage")
	}
	// Navigation moves focus to <main> (for screen readers); typing starts
	// only after that, as a person's would.
	p.do("log out", 5*time.Second, chromedp.Click(chromedp.CSS("#logout")))
	p.waitFor("back at sign-in", `location.hash === "#/login" && !document.querySelector("#view-auth").hidden && !localStorage.getItem("tagstream.session") && document.activeElement.id === "main"`, `location.hash`, 5*time.Second)
	p.do("log in", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#login-email"), email),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	p.waitFor("logged in", `!document.querySelector("#view-new").hidden && document.querySelector("#who-email").textContent === "`+email+`"`,
		`document.querySelector("#alert-text").textContent`, 10*time.Second)

	// Token refresh: an access token close to expiry is refreshed before the
	// next call, and a rejected one (401) is refreshed and the call resent;
	// each refresh rotates the refresh token.
	refreshToken := `JSON.parse(localStorage.getItem("tagstream.session")).refresh_token`
	first := eval[string](p, refreshToken)
	eval[string](p, `(() => { const s = JSON.parse(localStorage.getItem("tagstream.session")); s.expires_at = Date.now() + 2000;
		localStorage.setItem("tagstream.session", JSON.stringify(s)); location.hash = "#/analytics"; return ""; })()`)
	p.waitFor("refreshed before expiry", refreshToken+` !== "`+first+`" && document.querySelector("#analytics .chart, #analytics .notice")`, `document.querySelector("#alert-text").textContent`, 10*time.Second)
	second := eval[string](p, refreshToken)
	eval[string](p, `(() => { const s = JSON.parse(localStorage.getItem("tagstream.session")); s.access_token = "not-a-token";
		localStorage.setItem("tagstream.session", JSON.stringify(s)); location.hash = "#/jobs"; return ""; })()`)
	p.waitFor("refreshed after a 401", refreshToken+` !== "`+second+`" && document.querySelector("#active-jobs tbody")`, `document.querySelector("#alert-text").textContent`, 10*time.Second)
	if !eval[bool](p, `document.querySelector("#alert").hidden`) {
		t.Errorf("refresh showed an error: %q", p.text("#alert-text"))
	}
	eval[string](p, `location.hash = "#/new"`)
	// This server has no model key: the form defaults to the offline model
	// and says a key is required for any other.
	p.waitFor("model defaults to builtin/keywords without a server key",
		`document.querySelector("#model").value === "builtin/keywords" && /required/.test(document.querySelector("#api-key-hint").textContent)`,
		`document.querySelector("#model").value + " / " + document.querySelector("#api-key-hint").textContent`, 10*time.Second)

	// Upload the CSV: columns are detected and the obvious ones mapped.
	p.do("upload the CSV", 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#csv-file"), []string{csvFile}))
	p.waitFor("columns detected", `!document.querySelector("#mapping").hidden`, `document.querySelector("#csv-summary").textContent`, 10*time.Second)
	if s := p.text("#csv-summary"); !strings.Contains(s, "8 rows, 4 columns") {
		t.Errorf("summary %q; want 8 rows and 4 columns", s)
	}
	if got := eval[string](p, `["file_path","title","description"].map(f => document.querySelector("#map-"+f).value).join("|")`); got != "|Document Title|notes" {
		t.Errorf("auto-mapping = %q; want title and description mapped, file path left to the user", got)
	}
	if got := p.text("#preview tbody tr td:nth-child(3)"); got != `Report, annual "draft"` {
		t.Errorf("quoted CSV field parsed as %q", got)
	}
	p.choose("#map-file_path", "Doc Ref")

	// Validate paths: per-row results, or a notice on a server without it.
	p.do("validate paths", 5*time.Second, chromedp.Click(chromedp.CSS("#validate-btn")))
	p.waitFor("path validation answered", `document.querySelector("#validate-out table, #validate-out .notice") || !document.querySelector("#alert").hidden`,
		`document.querySelector("#validate-out").textContent + " / " + document.querySelector("#alert-text").textContent`, 10*time.Second)
	if eval[bool](p, `!!document.querySelector("#validate-out table")`) {
		if got := p.text("#validate-out p"); !strings.Contains(got, "8 of 8") {
			t.Errorf("path check summary %q; want all 8 paths usable", got)
		}
	}
	t.Logf("validate paths: %s", p.text("#validate-out p"))
	p.keepShot("start-form")

	// Exclusion words typed, then more loaded from a list file, which the
	// server parses with the CLI's parser (same fixture as its tests).
	fixture, _ := filepath.Abs("../../internal/tagging/testdata/exclusions.txt")
	p.do("exclusion words", 10*time.Second,
		chromedp.SetValue(chromedp.CSS("#exclusions"), "draft, annual"),
		chromedp.SetUploadFiles(chromedp.CSS("#exclusions-file"), []string{fixture}))
	p.waitFor("exclusion file loaded", `document.querySelector("#exclusions").value.includes("Government of India")`,
		`document.querySelector("#exclusions").value + " / " + document.querySelector("#alert-text").textContent`, 10*time.Second)
	if got := eval[string](p, `document.querySelector("#exclusions").value`); got != "draft, annual, water, sanitation, Government of India, C#, tender, annual report" {
		t.Errorf("exclusions after loading the file: %q", got)
	}

	// Start with the offline model.
	p.do("start the job", 10*time.Second,
		chromedp.SetValue(chromedp.CSS("#model"), "builtin/keywords"),
		chromedp.SetValue(chromedp.CSS("#pages"), "2"),
		chromedp.SetValue(chromedp.CSS("#tags"), "5"),
		chromedp.Click(chromedp.CSS("#start-btn")))
	p.waitFor("job page open", `!document.querySelector("#view-job").hidden && document.querySelector("#job-id").textContent.startsWith("batch-")`,
		`document.querySelector("#alert-text").textContent`, 10*time.Second)
	jobID := p.text("#job-id")
	t.Logf("job %s, updates: %s", jobID, p.text("#job-conn"))

	// Pause while documents are held at the gate.
	deadline := time.Now().Add(10 * time.Second)
	for tagger.running.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if tagger.running.Load() == 0 {
		t.Fatal("no document reached the tagger")
	}
	p.waitFor("pause enabled", `!document.querySelector("[data-action=pause]").disabled`, `document.querySelector("#job-status").textContent`, 10*time.Second)
	p.do("pause", 5*time.Second,
		chromedp.SendKeys(chromedp.CSS("#action-reason"), "checking the inputs"),
		chromedp.Click(chromedp.CSS("[data-action=pause]")))
	p.waitFor("paused", `document.querySelector("#job-status").textContent === "paused" && !document.querySelector("[data-action=resume]").disabled`,
		`document.querySelector("#job-status").textContent + " / " + document.querySelector("#alert-text").textContent`, 10*time.Second)
	// Documents already in flight finish; no new one starts while paused.
	close(gate)
	p.waitFor("in-flight documents shown", `Number(document.querySelector("#c-ok").textContent) > 0`, `document.querySelector("#c-ok").textContent`, 10*time.Second)
	// Once no worker holds a task, the page must show what the read
	// model holds, and that must be part of the job.
	waitFor(t, "workers idle", func() bool {
		_, fams := scrape(t, e)
		return value(t, fams, "tagstream_documents_in_flight", nil) == 0
	})
	if err := e.app.fresh.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	held, _, err := e.app.jobs.Get(context.Background(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	p.waitFor("page shows every outcome so far", fmt.Sprintf(`document.querySelector("#c-ok").textContent === "%d"`, held.Processed),
		`document.querySelector("#c-ok").textContent`, 10*time.Second)
	mid := p.text("#progress-pct")
	if st := p.text("#job-status"); st != "paused" || mid == "100%" || mid == "0%" {
		t.Fatalf("while paused: status %q, progress %q; want paused part-way", st, mid)
	}
	t.Logf("paused at %s (%s tagged)", mid, p.text("#c-ok"))
	p.keepShot("paused")

	p.do("resume", 5*time.Second, chromedp.Click(chromedp.CSS("[data-action=resume]")))
	p.waitFor("job reaches 100%", `document.querySelector("#progress-pct").textContent === "100%" && document.querySelector("#job-status").textContent === "completed"`,
		`document.querySelector("#job-status").textContent + " " + document.querySelector("#progress-pct").textContent`, 20*time.Second)
	if got := p.text("#c-ok"); got != fmt.Sprint(rows) {
		t.Errorf("tagged count %s; want %d", got, rows)
	}
	if got := eval[string](p, `document.querySelector("#progress").getAttribute("aria-valuenow") + "|" + document.querySelector("#live").textContent`); !strings.HasPrefix(got, "100|") || !strings.Contains(got, "completed") {
		t.Errorf("progress bar / live region = %q; want 100 and an announcement of completion", got)
	}
	if n := eval[int](p, `document.querySelectorAll("#live-docs tbody tr[data-status=success]").length`); n != rows {
		t.Errorf("live table shows %d tagged rows; want %d", n, rows)
	}
	p.keepShot("completed")

	// Results: keyboard moves between tabs (ArrowRight from Documents).
	p.do("open results by keyboard", 5*time.Second, chromedp.Focus(chromedp.CSS("#tab-live")), chromedp.KeyEvent(kb.ArrowRight))
	p.waitFor("results table", `document.querySelectorAll("#results-table tbody tr").length === `+fmt.Sprint(rows),
		`document.querySelector("#panel-results").textContent.slice(0, 300)`, 10*time.Second)
	if got := p.text("#results-table tbody tr:first-child"); !strings.Contains(got, `Report, annual "draft"`) || !strings.Contains(got, "fake") || !strings.Contains(got, "doc-0.pdf") {
		t.Errorf("first result row %q; want the mapped title, path and tags", got)
	}

	// Export: fetched with the bearer token, handed over as a blob.
	p.do("export CSV", 5*time.Second, chromedp.Click(chromedp.CSS("#export-csv")))
	p.waitFor("blob link", `(document.querySelector("#export-link")||{}).href?.startsWith("blob:")`, `document.querySelector("#export-out").textContent + document.querySelector("#alert-text").textContent`, 10*time.Second)
	saved := string(p.waitDownload(jobID+"-results.csv", 10*time.Second))
	if !strings.HasPrefix(saved, "row_id,") || !strings.Contains(saved, "Department") || !strings.Contains(saved, "fake") || strings.Count(saved, "doc-") != rows {
		t.Errorf("exported CSV:\n%s", saved)
	}
	p.do("export .xlsx", 5*time.Second, chromedp.Click(chromedp.CSS("#export-xlsx")))
	p.waitFor("xlsx blob link", `(document.querySelector("#export-link")||{}).download?.endsWith(".xlsx")`, `document.querySelector("#export-out").textContent + document.querySelector("#alert-text").textContent`, 10*time.Second)
	book := p.waitDownload(jobID+"-results.xlsx", 10*time.Second)
	if xh, xrows, err := sheet.ReadXLSX(bytes.NewReader(book), sheet.Limits{}); err != nil || xh[0] != "row_id" || len(xrows) != rows || !slices.Contains(xh, "Department") {
		t.Errorf("exported .xlsx: %q, %d rows, %v", xh, len(xrows), err)
	}

	// Audit trail: the control events, with who did them and why.
	p.do("open audit trail", 5*time.Second, chromedp.Click(chromedp.CSS("#tab-audit")))
	for _, typ := range []string{"JobStarted", "JobPaused", "JobResumed", "JobCompleted"} {
		p.waitFor("timeline shows "+typ, `document.querySelector('#timeline li[data-type=`+typ+`]')`, `document.querySelector("#timeline").textContent.slice(0, 400)`, 10*time.Second)
	}
	if got := p.text("#timeline li[data-type=JobPaused]"); !strings.Contains(got, email) || !strings.Contains(got, "checking the inputs") {
		t.Errorf("pause entry %q; want the actor's email and the reason", got)
	}
	if n := eval[int](p, `document.querySelectorAll("#timeline li[data-type^=Document]").length`); n != 0 {
		t.Errorf("per-document events shown by default: %d", n)
	}
	p.keepShot("audit")

	// A refused command shows the server's reason next to the buttons.
	p.do("retry a job with nothing to retry", 5*time.Second, chromedp.Click(chromedp.CSS("[data-action=retry]")))
	p.waitFor("refusal shown", `(document.querySelector("#job-actions .inline-error")||{}).textContent && document.querySelector("#alert").hidden`, `document.querySelector("#alert-text").textContent`, 5*time.Second)
	t.Logf("retry answer: %s", p.text("#job-actions .inline-error"))

	// Job list: the finished job appears in history (or this tab's list).
	p.do("open jobs", 5*time.Second, chromedp.Navigate(base+"/#/jobs"))
	if !eval[bool](p, `document.querySelector("#alert").hidden`) {
		t.Errorf("an error about the job page stayed up after leaving it: %q", p.text("#alert-text"))
	}
	p.waitFor("job listed", `document.querySelector("#history-jobs").textContent.includes("`+jobID+`")`,
		`document.querySelector("#view-jobs").textContent.slice(0, 400)`, 10*time.Second)

	// Analytics: charts, or a notice on a server without the endpoint.
	p.do("open analytics", 5*time.Second, chromedp.Click(chromedp.CSS(`[data-nav=analytics]`)))
	p.waitFor("analytics answered", `document.querySelector("#analytics .chart, #analytics .notice")`, `document.querySelector("#analytics").textContent`, 10*time.Second)
	p.keepShot("analytics")

	// 360 px: nothing may be wider than the screen (tables scroll in their box).
	p.do("narrow viewport", 5*time.Second, chromedp.EmulateViewport(360, 740))
	for _, view := range []string{"#/new", "#/jobs/" + jobID, "#/jobs", "#/analytics"} {
		eval[string](p, fmt.Sprintf(`location.hash = %q`, view))
		time.Sleep(300 * time.Millisecond)
		if view == "#/jobs/"+jobID {
			p.do("results at 360px", 5*time.Second, chromedp.Click(chromedp.CSS("#tab-results")))
			time.Sleep(300 * time.Millisecond)
		}
		if got := eval[string](p, `document.documentElement.scrollWidth + "/" + window.innerWidth`); got != "360/360" {
			t.Errorf("%s at 360px: scrollWidth/innerWidth = %s", view, got)
		}
		p.keepShot("360-" + strings.NewReplacer("#/", "", "/", "-").Replace(view))
	}
	p.do("log out at 360px", 5*time.Second, chromedp.Click(chromedp.CSS("#logout")))
	p.waitFor("sign-in", `!document.querySelector("#view-auth").hidden`, `location.hash`, 5*time.Second)
	if got := eval[string](p, `document.documentElement.scrollWidth + "/" + window.innerWidth`); got != "360/360" {
		t.Errorf("sign-in at 360px: %s", got)
	}
	p.keepShot("360-auth")

	if bad := p.problems(); len(bad) > 0 {
		t.Errorf("page errors or CSP violations: %q", bad)
	}
	t.Logf("browser journey took %s", time.Since(started).Round(time.Millisecond))
}

// TestWebConsolePollingFallback follows a job on a server without the
// WebSocket endpoint: the console must fall back to polling status and
// results and still show pause, resume and completion.
func TestWebConsolePollingFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	tagger := &fakeTagger{delay: 50 * time.Millisecond}
	gate := make(chan struct{})
	tagger.setGate(gate)
	e := startEnv(t, testConfig(t), tagger)
	base := front(t, e, func(path string) bool {
		return strings.HasPrefix(path, "/api/batch/ws/") || strings.HasSuffix(path, "/stream")
	})
	u := e.register("poller@example.com")
	job := e.startJob(u, 6, nil)

	p := newPage(t, 1024, 768)
	p.do("open the console", 20*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	p.do("log in", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#login-email"), u.email),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct-horse-1"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	p.waitFor("logged in", `!document.querySelector("#view-new").hidden`, `document.querySelector("#alert-text").textContent`, 10*time.Second)
	eval[string](p, fmt.Sprintf(`location.hash = "#/jobs/%s"`, job))
	p.waitFor("polling", `document.querySelector("#job-conn").dataset.mode === "polling" && document.querySelectorAll("#live-docs tbody tr").length === 6`,
		`document.querySelector("#job-conn").textContent + " / " + document.querySelector("#alert-text").textContent`, 10*time.Second)

	p.waitFor("pause enabled", `!document.querySelector("[data-action=pause]").disabled`, `document.querySelector("#job-status").textContent`, 10*time.Second)
	p.do("pause", 5*time.Second, chromedp.Click(chromedp.CSS("[data-action=pause]")))
	p.waitFor("paused", `document.querySelector("#job-status").textContent === "paused"`, `document.querySelector("#job-status").textContent`, 10*time.Second)
	close(gate)
	p.do("resume", 5*time.Second, chromedp.Click(chromedp.CSS("[data-action=resume]")))
	p.waitFor("completed by polling", `document.querySelector("#job-status").textContent === "completed" && document.querySelector("#progress-pct").textContent === "100%" && document.querySelectorAll("#live-docs tbody tr[data-status=success]").length === 6`,
		`document.querySelector("#job-status").textContent + " " + document.querySelector("#progress-pct").textContent`, 20*time.Second)
	if got := p.text("#c-ok"); got != "6" {
		t.Errorf("tagged count %s; want 6", got)
	}
	if bad := p.problems(); len(bad) > 0 {
		t.Errorf("page errors or CSP violations: %q", bad)
	}
}
