package main

// Browser tests of a console that tells the truth (issue 13 item 2): the
// job status from the server's messages, a real "not found", the pause
// reason, a WebSocket that comes back after a drop, errors where the
// action was taken, a confirmed Cancel, Retry with cancelled documents,
// deep links through login, and one session shared by tabs.

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// spyFront serves the console and proxies the API from one origin, and
// lets a test count status polls and WebSocket connections and cut every
// open WebSocket, as a flaky network or a restarted proxy would.
type spyFront struct {
	url     string
	polls   atomic.Int64 // GET …/status
	sockets atomic.Int64 // WebSocket upgrades asked for
	mu      sync.Mutex
	since   []string // the ?since= of each WebSocket request
	conns   []net.Conn
}

func newSpyFront(t *testing.T, e *env) *spyFront {
	t.Helper()
	f := &spyFront{}
	f.url = consoleFront(t, e, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/batch/ws/"):
			f.sockets.Add(1)
			f.mu.Lock()
			f.since = append(f.since, r.URL.Query().Get("since"))
			f.mu.Unlock()
		case strings.HasPrefix(r.URL.Path, "/api/batch/jobs/") && strings.HasSuffix(r.URL.Path, "/status"):
			f.polls.Add(1)
		}
		next.ServeHTTP(w, r)
	}, func(c net.Conn) {
		// The proxy hijacks a connection it upgrades: keep those to cut them.
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
	})
	return f
}

// drop cuts every upgraded connection and reports how many it cut.
func (f *spyFront) drop() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.conns)
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
	return n
}

func (f *spyFront) lastSince() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.since) == 0 {
		return ""
	}
	return f.since[len(f.since)-1]
}

const statusDiag = `document.querySelector("#job-status").textContent + " / " + document.querySelector("#job-conn").textContent + " / " + document.querySelector("#alert-text").textContent`

// logIn fills the sign-in form of a page that shows it.
func logIn(p *page, email string) {
	p.t.Helper()
	p.do("log in", 10*time.Second,
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-email"), email),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct-horse-1"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
}

// inView tells whether an element is visible inside the viewport.
func inView(sel string) string {
	return fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el || el.hidden || !el.textContent) return false;
		const r = el.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; })()`, sel)
}

// TestWebConsoleLiveTruth follows a job from a deep link opened before
// login: the badge moves pending -> processing -> paused -> processing ->
// completed from the server's messages (no polling while the socket is
// up), the pause reason shows (also after a reload), a cut WebSocket is
// bridged by a few polls and comes back resuming from the last event,
// every document is shown once, and an unknown job is "not found" with no
// badge or controls.
func TestWebConsoleLiveTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	tagger := &fakeTagger{delay: 20 * time.Millisecond}
	gate := make(chan struct{})
	tagger.setGate(gate)
	e := startEnv(t, testConfig(t), tagger)
	f := newSpyFront(t, e)
	u := e.register("truth@example.com")
	const rows = 4
	job := e.startJob(u, rows, nil)

	p := newPage(t, 1024, 768)
	// Deep link before login: the sign-in form shows, the address stays.
	p.do("open a deep link", 20*time.Second, chromedp.Navigate(f.url+"/#/jobs/"+job))
	p.waitFor("sign-in shown for the deep link", `document.body.dataset.ready === "1" && !document.querySelector("#view-auth").hidden`, `location.hash`, 10*time.Second)
	logIn(p, u.email)
	p.waitFor("the linked job opens after login", `!document.querySelector("#view-job").hidden && document.querySelector("#job-id").textContent === "`+job+`"`,
		`location.hash + " / " + document.querySelector("#alert-text").textContent`, 10*time.Second)

	// Documents are held at the gate, so the job is at work: processing,
	// told by the socket (no status poll while it is up).
	p.waitFor("processing, live", `document.querySelector("#job-status").textContent === "processing" && document.querySelector("#job-conn").dataset.mode === "live"`, statusDiag, 10*time.Second)
	gate <- struct{}{}
	p.waitFor("one tagged, live", `document.querySelector("#c-ok").textContent === "1"`, statusDiag, 10*time.Second)
	if n := f.polls.Load(); n != 0 {
		t.Errorf("%d status polls while the WebSocket was up; want 0", n)
	}

	// Pause with a reason: shown while paused, and after a reload (it is
	// the server's, not the page's memory).
	p.do("pause", 5*time.Second,
		chromedp.SendKeys(chromedp.CSS("#action-reason"), "waiting for legal"),
		chromedp.Click(chromedp.CSS("[data-action=pause]")))
	p.waitFor("paused with reason", `document.querySelector("#job-status").textContent === "paused" && document.querySelector("#job-reason").textContent === "Paused: waiting for legal" && !document.querySelector("#job-reason").hidden`,
		statusDiag+` + " / " + document.querySelector("#job-reason").textContent`, 10*time.Second)
	p.do("reload", 20*time.Second, chromedp.Reload())
	p.waitFor("still signed in, reason shown after reload", `!document.querySelector("#view-job").hidden && document.querySelector("#job-reason").textContent === "Paused: waiting for legal" && document.querySelector("#job-conn").dataset.mode === "live"`,
		statusDiag, 10*time.Second)

	// Cut the socket: a few polls bridge the gap, then the socket is back
	// and resumes after the last event it saw.
	socketsBefore := f.sockets.Load()
	if n := f.drop(); n == 0 {
		t.Fatal("no WebSocket to cut")
	}
	p.waitFor("bridged by polling", `document.querySelector("#job-conn").dataset.mode === "reconnecting"`, statusDiag, 10*time.Second)
	p.waitFor("back on the socket", `document.querySelector("#job-conn").dataset.mode === "live"`, statusDiag, 15*time.Second)
	if f.sockets.Load() <= socketsBefore {
		t.Errorf("no new WebSocket after the drop")
	}
	if s := f.lastSince(); s == "" || s == "0" {
		t.Errorf("the reconnect asked since=%q; want the last event seen", s)
	}
	// Observed for longer than a poll period: once the socket is back,
	// polling has stopped (it does not go on forever).
	pollsAtLive := f.polls.Load()
	if pollsAtLive == 0 {
		t.Errorf("no status poll bridged the drop")
	}
	time.Sleep(2500 * time.Millisecond)
	if n := f.polls.Load(); n != pollsAtLive {
		t.Errorf("%d status polls after the socket came back; want none", n-pollsAtLive)
	}

	// Resume over the new socket and finish: every document once.
	p.do("resume", 5*time.Second, chromedp.Click(chromedp.CSS("[data-action=resume]")))
	p.waitFor("processing again, reason gone", `document.querySelector("#job-status").textContent === "processing" && document.querySelector("#job-reason").hidden`, statusDiag, 10*time.Second)
	close(gate)
	p.waitFor("completed", `document.querySelector("#job-status").textContent === "completed" && document.querySelector("#progress-pct").textContent === "100%"`, statusDiag, 20*time.Second)
	// The finish time comes with the status the page fetches once the job
	// has ended, which may land just after the terminal message.
	p.waitFor("finish time shown", `document.querySelector("#job-meta").textContent.includes("Duration")`, statusDiag, 10*time.Second)
	if got := p.text("#job-meta"); !strings.Contains(got, "Modelbuiltin/keywords") || !strings.Contains(got, "Started") || !strings.Contains(got, "Finished") || !strings.Contains(got, "Duration") {
		t.Errorf("job settings and times = %q; want model, start, finish and duration", got)
	}
	if got := eval[string](p, `document.querySelectorAll("#live-docs tbody tr").length + "/" + document.querySelectorAll("#live-docs tbody tr[data-status=success]").length + "/" + document.querySelector("#c-ok").textContent`); got != fmt.Sprintf("%d/%d/%d", rows, rows, rows) {
		t.Errorf("rows/tagged rows/tagged count = %s; want each of the %d documents once", got, rows)
	}

	// An unknown job: "not found", no badge, no buttons, and no polling on.
	eval[string](p, `location.hash = "#/jobs/batch-no-such-job"`)
	p.waitFor("not found", `!document.querySelector("#job-missing").hidden && document.querySelector("#job-body").hidden`, statusDiag, 10*time.Second)
	if got := eval[string](p, `[...document.querySelectorAll("#job-status, [data-action]")].filter(el => el.offsetParent !== null).length + ""`); got != "0" {
		t.Errorf("%s badge/control elements visible for an unknown job", got)
	}
	p.keepShot("not-found")
	if bad := p.problems(); len(bad) > 0 {
		t.Errorf("page errors or CSP violations: %q", bad)
	}
}

// TestWebConsoleCancelRetry: Cancel asks first (and "keep it running"
// keeps it running), a refused Retry answers next to the buttons and in
// view, and Retry with "include cancelled" runs the cancelled documents
// again to completion.
func TestWebConsoleCancelRetry(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	tagger := &fakeTagger{delay: 20 * time.Millisecond}
	gate := make(chan struct{})
	tagger.setGate(gate)
	e := startEnv(t, testConfig(t), tagger)
	u := e.register("canceller@example.com")
	const rows = 5
	job := e.startJob(u, rows, nil)
	status := func() string {
		return e.mustCall("GET", "/api/batch/jobs/"+job+"/status", u.token, nil, http.StatusOK)["status"].(string)
	}

	p := newPage(t, 1024, 500) // short: the job's buttons sit below the fold
	p.do("open the job", 20*time.Second, chromedp.Navigate(e.url+"/#/jobs/"+job))
	logIn(p, u.email)
	p.waitFor("processing", `document.querySelector("#job-status").textContent === "processing"`, statusDiag, 10*time.Second)

	p.do("cancel, then think again", 5*time.Second, chromedp.Click(chromedp.CSS("[data-action=cancel]")))
	p.waitFor("confirmation asked", `!document.querySelector("#cancel-confirm").hidden && document.activeElement.id === "cancel-yes"`, statusDiag, 5*time.Second)
	if st := status(); st != "processing" {
		t.Fatalf("a single click on Cancel changed the job to %s", st)
	}
	p.do("keep it running", 5*time.Second, chromedp.Click(chromedp.CSS("#cancel-no")))
	p.waitFor("confirmation gone", `document.querySelector("#cancel-confirm").hidden`, statusDiag, 5*time.Second)
	if st := status(); st != "processing" {
		t.Fatalf("'keep it running' left the job %s", st)
	}
	p.do("cancel for real", 5*time.Second, chromedp.Click(chromedp.CSS("[data-action=cancel]")), chromedp.Click(chromedp.CSS("#cancel-yes")))
	p.waitFor("cancelled", `document.querySelector("#job-status").textContent === "cancelled" && !document.querySelector("[data-action=retry]").disabled`, statusDiag, 10*time.Second)
	if st := status(); st != "cancelled" {
		t.Fatalf("after confirming, the server says %s", st)
	}

	// Retry without cancelled documents: nothing failed, so refused; the
	// answer sits by the buttons, scrolled into view.
	eval[string](p, `window.scrollTo(0, 0); ""`)
	p.do("retry failed only", 5*time.Second, chromedp.Click(chromedp.CSS("[data-action=retry]")))
	p.waitFor("refusal next to the buttons, in view", inView("#job-actions .inline-error"),
		`(document.querySelector("#job-actions .inline-error")||{}).textContent + " / " + document.querySelector("#alert-text").textContent`, 5*time.Second)
	t.Logf("retry without cancelled: %s", p.text("#job-actions .inline-error"))

	p.do("retry with cancelled", 5*time.Second,
		chromedp.Click(chromedp.CSS("#retry-cancelled")),
		chromedp.Click(chromedp.CSS("[data-action=retry]")))
	close(gate)
	p.waitFor("retried to completion", `document.querySelector("#job-status").textContent === "completed" && document.querySelector("#c-ok").textContent === "`+fmt.Sprint(rows)+`"`, statusDiag, 20*time.Second)
	if !eval[bool](p, `document.querySelector("#job-actions .inline-error").hidden`) {
		t.Errorf("the earlier refusal stayed up after a successful retry")
	}
	if bad := p.problems(); len(bad) > 0 {
		t.Errorf("page errors or CSP violations: %q", bad)
	}
}

// TestWebConsoleSessionTabs: a second tab is signed in without logging
// in again; a form error shows by the form, in view; logging out in one
// tab signs every tab out.
func TestWebConsoleSessionTabs(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("tabs@example.com")
	a := newPage(t, 1024, 500)
	a.do("open", 20*time.Second, chromedp.Navigate(e.url+"/"))
	logIn(a, u.email)
	a.waitFor("signed in", `!document.querySelector("#view-new").hidden`, `document.querySelector("#alert-text").textContent`, 10*time.Second)

	// Start with no file: the error is by the Start button, in view.
	a.do("start without a file", 5*time.Second, chromedp.Click(chromedp.CSS("#start-btn")))
	a.waitFor("start error by the button, in view", inView("#start-actions .inline-error"),
		`(document.querySelector("#start-actions .inline-error")||{}).textContent + " / " + document.querySelector("#alert-text").textContent`, 5*time.Second)

	// A new tab of the same browser: already signed in.
	tabCtx, cancel := chromedp.NewContext(a.ctx)
	defer cancel()
	// The first action opens the tab and ties it to its context: run it on
	// the tab's own context, not a short-lived child (as newPage does).
	if err := chromedp.Do(tabCtx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a second tab: %v", err)
	}
	b := &page{t: t, ctx: tabCtx}
	b.do("open a second tab", 20*time.Second, chromedp.Navigate(e.url+"/#/jobs"))
	b.waitFor("second tab signed in", `document.body.dataset.ready === "1" && !document.querySelector("#view-jobs").hidden && document.querySelector("#who-email").textContent === "`+u.email+`"`,
		`location.hash + " " + document.querySelector("#view-auth").hidden`, 10*time.Second)

	// Log out in the second tab: the first follows without a reload.
	b.do("log out in the second tab", 5*time.Second, chromedp.Click(chromedp.CSS("#logout")))
	b.waitFor("second tab signed out", `!document.querySelector("#view-auth").hidden && !localStorage.getItem("tagstream.session")`, `location.hash`, 5*time.Second)
	a.waitFor("first tab signed out too", `!document.querySelector("#view-auth").hidden && document.querySelector("#nav").hidden`, `location.hash`, 5*time.Second)
	if bad := a.problems(); len(bad) > 0 {
		t.Errorf("page errors or CSP violations: %q", bad)
	}
}
