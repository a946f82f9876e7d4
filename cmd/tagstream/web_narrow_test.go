package main

// Readable analytics and tags on a 360 px phone (issue 13 item 4): bar
// labels are whole (no "…" cut), failure reasons are grouped by code with
// a message as example, the per-day chart has a legend, and no tag or
// label reaches past the screen's edge.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tagstream/tagstream/services/pipeline"
)

func TestWebConsoleNarrowAnalyticsAndTags(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		if strings.HasPrefix(in.Document.Title, "Missing") {
			// One code, messages that differ by path: one reason.
			return &pipeline.Failure{Code: "fetch_not_found", Reason: "no such file: " + in.Document.FilePath}
		}
		return nil
	}}
	e := startEnv(t, testConfig(t), tagger)
	u := e.register("phone@example.com")
	long := "Interdepartmental-memorandum-on-the-harmonisation-of-procurement-procedures"
	docs := []map[string]any{{"file_path": "a.pdf", "title": long}, {"file_path": "b.pdf", "title": long}}
	for i := range 3 {
		docs = append(docs, map[string]any{"file_path": fmt.Sprintf("gone/%d.pdf", i), "title": fmt.Sprintf("Missing %d", i)})
	}
	job := e.startJob(u, 0, map[string]any{"documents": docs, "name": "Procurement"})
	e.waitStatus(u, job, 30*time.Second, "completed", "failed")

	p := newPhonePage(t)
	p.do("open", 20*time.Second, chromedp.Navigate(consoleURL(t, e)+"/#/analytics"))
	p.waitFor("sign-in", `document.body.dataset.ready === "1"`, `location.hash`, 10*time.Second)
	logIn(p, u.email)
	p.waitFor("analytics", `document.querySelectorAll("#analytics .hbars").length >= 3`, `document.querySelector("#analytics").textContent.slice(0, 300)`, 10*time.Second)
	if eval[int](p, `window.innerWidth`) > 400 {
		t.Fatalf("viewport is %d px wide; want 360", eval[int](p, `window.innerWidth`))
	}
	// The whole tag as a label, on as many lines as it needs.
	if got := eval[string](p, `[...document.querySelectorAll(".hbar-label")].map(l => l.firstChild.textContent).join("|")`); !strings.Contains(got, "tag "+long) || strings.Contains(got, "…") {
		t.Errorf("bar labels = %q; want the whole tag, nothing cut with …", got)
	}
	if got := eval[string](p, `[...document.querySelectorAll(".hbars li")].map(l => l.title).join("|")`); !strings.Contains(got, "tag "+long+": 2") {
		t.Errorf("bar tooltips = %q; want the full label and count", got)
	}
	reasons := `[...document.querySelectorAll(".chart")].find(c => c.querySelector("h2").textContent.startsWith("Top failure reasons"))`
	if got := eval[string](p, reasons+`.querySelector(".hbars").innerText`); !strings.Contains(got, "fetch_not_found") || !strings.Contains(got, "3") || !strings.Contains(got, "e.g. no such file: gone/") {
		t.Errorf("failure reasons = %q; want one fetch_not_found row of 3 with a message as example", got)
	}
	if n := eval[int](p, reasons+`.querySelectorAll(".hbars li").length`); n != 1 {
		t.Errorf("%d failure reason rows; want the 3 messages grouped into 1 by code", n)
	}
	if got := eval[string](p, `[...document.querySelectorAll(".chart")].find(c => c.querySelector("h2").textContent === "Documents per day").querySelector(".legend").textContent`); got != "TaggedFailed" {
		t.Errorf("per-day legend = %q; want Tagged and Failed", got)
	}
	// Nothing past the right edge: not the page, not a label.
	overflow := `(() => { const w = document.documentElement.clientWidth; const bad = [...document.querySelectorAll(SEL)].filter(el => { const r = el.getBoundingClientRect(); return r.width > 0 && (r.right > w + 1 || el.scrollWidth > el.clientWidth + 1); }); return document.documentElement.scrollWidth + "/" + w + "/" + bad.length; })()`
	if got := eval[string](p, strings.ReplaceAll(overflow, "SEL", `".hbar-label, .hbars li, .legend"`)); !strings.HasSuffix(got, "/0") || strings.Split(got, "/")[0] != strings.Split(got, "/")[1] {
		t.Errorf("analytics at 360 px: page width/viewport/overflowing labels = %s; want no overflow", got)
	}
	p.keepShot("analytics-360")

	// The job page's tags wrap inside the screen.
	eval[string](p, `location.hash = "#/jobs/`+job+`"`)
	p.waitFor("rows", `document.querySelectorAll("#live-docs tbody tr").length === 5 && document.querySelector("#live-docs .chip")`, statusDiag, 10*time.Second)
	if got := eval[string](p, strings.ReplaceAll(overflow, "SEL", `"#live-docs .chip"`)); !strings.HasSuffix(got, "/0") || strings.Split(got, "/")[0] != strings.Split(got, "/")[1] {
		t.Errorf("job page at 360 px: page width/viewport/clipped tags = %s; want every tag inside the screen", got)
	}
	if got := eval[string](p, `[...document.querySelectorAll("#live-docs .chip")].map(c => c.textContent).join("|")`); !strings.Contains(got, "tag "+long) {
		t.Errorf("tags = %q; want the whole long tag", got)
	}
	p.keepShot("job-360")
	if bad := p.problems(); len(bad) > 0 {
		t.Errorf("page errors: %q", bad)
	}
}

// newPhonePage is a tab the size of a 360 x 740 phone screen: headless
// Chromium's window cannot be narrower than 500 px, so the viewport is
// emulated.
func newPhonePage(t *testing.T) *page {
	t.Helper()
	p := newPage(t, 500, 740)
	p.do("phone viewport", 5*time.Second, chromedp.EmulateViewport(360, 740))
	return p
}
