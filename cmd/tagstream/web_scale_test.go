package main

// A 10,000-document job in the console (issue 13 item 3): the job page
// holds one page of rows, live updates change rows without re-reading
// results, a poll reads one page, and the job's cancel is on the first
// page of the audit trail. The assertions are DOM node and request
// counts and bytes; the times are logged for BENCHMARKS.md, never
// asserted.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// meterFront serves the console and proxies the API, counting requests
// and response bytes by kind; noSocket refuses the WebSocket (404), so
// the console polls.
type meterFront struct {
	url      string
	noSocket atomic.Bool
	mu       sync.Mutex
	reqs     map[string]int
	bytes    map[string]int64
	limits   []string // the ?limit= of each results request
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// Flush and Hijack pass through: the proxy streams and upgrades.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func kindOf(p string) string {
	switch {
	case strings.HasPrefix(p, "/api/batch/ws/"):
		return "ws"
	case strings.HasSuffix(p, "/status"):
		return "status"
	case strings.HasSuffix(p, "/results"):
		return "results"
	case strings.HasSuffix(p, "/events"):
		return "events"
	case strings.HasPrefix(p, "/api/"):
		return "api"
	}
	return "ui"
}

func newMeterFront(t *testing.T, e *env) *meterFront {
	t.Helper()
	f := &meterFront{reqs: map[string]int{}, bytes: map[string]int64{}}
	f.url = consoleFront(t, e, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		kind := kindOf(r.URL.Path)
		if kind == "ws" && f.noSocket.Load() {
			http.NotFound(w, r)
			return
		}
		// Requests are counted before they are served, so a page that has
		// shown an answer has been counted.
		f.mu.Lock()
		f.reqs[kind]++
		if kind == "results" {
			f.limits = append(f.limits, r.URL.Query().Get("limit"))
		}
		f.mu.Unlock()
		if kind == "ws" {
			next.ServeHTTP(w, r) // hijacked: frames are not counted here
			return
		}
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		f.mu.Lock()
		f.bytes[kind] += cw.n
		f.mu.Unlock()
	}, nil)
	return f
}

func (f *meterFront) count(kind string) (int, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[kind], f.bytes[kind]
}

const domNodes = `document.getElementsByTagName("*").length`

func TestWebConsoleTenThousandDocumentJob(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	const total = 10000
	cfg := testConfig(t)
	cfg.Workers = 8
	tagger := &fakeTagger{}
	gate := make(chan struct{})
	tagger.setGate(gate)
	e := startEnv(t, cfg, tagger)
	f := newMeterFront(t, e)
	u := e.register("bigjob@example.com")
	job := e.startJob(u, total, map[string]any{"name": "Archive scan 10k"})
	release := func(n int) {
		for range n {
			gate <- struct{}{}
		}
	}
	release(300)
	waitProcessed(t, e, u, job, 300)

	// What the console before issue 13 fetched on every poll: every row.
	allBytes := int64(0)
	for cursor := ""; ; {
		resp, err := authGet(e, u, "/api/batch/jobs/"+job+"/results?limit=1000&cursor="+cursor)
		if err != nil {
			t.Fatal(err)
		}
		allBytes += int64(len(resp.body))
		if resp.next == "" {
			break
		}
		cursor = resp.next
	}

	p := newPage(t, 1400, 900)
	p.do("open the console", 20*time.Second, chromedp.Navigate(f.url+"/"))
	p.waitFor("sign-in", `document.body.dataset.ready === "1"`, `location.hash`, 10*time.Second)
	logIn(p, u.email)
	p.waitFor("signed in", `!document.querySelector("#view-new").hidden`, `location.hash`, 10*time.Second)

	// Open the running job: interactive once the status, the counts and
	// the first page of rows are in and the buttons answer.
	resultsBefore, _ := f.count("results")
	opened := time.Now()
	eval[string](p, `(window.__t0 = performance.now(), location.hash = "#/jobs/`+job+`")`)
	p.waitFor("job page interactive", `document.querySelector("#job-status").textContent === "processing" && document.querySelectorAll("#live-docs tbody tr").length === 100 && !document.querySelector("[data-action=pause]").disabled`,
		statusDiag+` + " rows " + document.querySelectorAll("#live-docs tbody tr").length`, 30*time.Second)
	tti := time.Since(opened)
	inPage := eval[float64](p, `performance.now() - window.__t0`)
	nodes := eval[int](p, domNodes)
	heap := eval[float64](p, `(performance.memory && performance.memory.usedJSHeapSize) || 0`)
	t.Logf("10,000-document job page: interactive after %s (%.0f ms in the page), %d DOM nodes, JS heap %.1f MB", tti.Round(time.Millisecond), inPage, nodes, heap/1e6)
	if nodes > 3000 {
		t.Errorf("%d DOM nodes on the job page of a 10,000-document job; want at most 3,000 (one page of rows)", nodes)
	}
	if got := p.text("#job-title"); got != "Archive scan 10k" {
		t.Errorf("job title %q, want the job's name", got)
	}

	// Live: 200 more documents change counts and rows over the socket
	// without one more results request.
	p.waitFor("live", `document.querySelector("#job-conn").dataset.mode === "live"`, statusDiag, 10*time.Second)
	resultsLive, _ := f.count("results")
	release(200)
	p.waitFor("counts follow the socket", `Number(document.querySelector("#c-ok").textContent) >= 500`, statusDiag, 30*time.Second)
	if n, _ := f.count("results"); n != resultsLive {
		t.Errorf("%d results requests during live updates; want none (rows come with the messages)", n-resultsLive)
	}
	if n := resultsLive - resultsBefore; n > 2 {
		t.Errorf("opening the job made %d results requests; want one page", n)
	}

	// Paging: the last page, still one page of nodes.
	p.do("last page", 5*time.Second, chromedp.Click(chromedp.CSS("#docs-last")))
	p.waitFor("rows 9901-10000", `document.querySelector("#live-docs tbody tr:last-child") && document.querySelector("#live-docs tbody tr:last-child").dataset.row === "9999" && document.querySelectorAll("#live-docs tbody tr").length === 100`,
		`document.querySelector("#docs-range").textContent`, 10*time.Second)
	if n := eval[int](p, domNodes); n > 3000 {
		t.Errorf("%d DOM nodes on the last page", n)
	}
	p.do("first page", 5*time.Second, chromedp.Click(chromedp.CSS("#docs-first")))
	p.waitFor("rows 1-100", `(document.querySelector("#live-docs tbody tr") || {dataset: {}}).dataset.row === "0"`, `document.querySelector("#docs-range").textContent`, 10*time.Second)

	// Polling (no WebSocket): each poll reads the status and one page.
	f.noSocket.Store(true)
	p.do("reload without the socket", 20*time.Second, chromedp.Reload())
	p.waitFor("polling", `document.querySelector("#job-conn").dataset.mode === "polling" && document.querySelectorAll("#live-docs tbody tr").length === 100`, statusDiag, 20*time.Second)
	s0, sb0 := f.count("status")
	r0, rb0 := f.count("results")
	release(100)
	p.waitFor("a poll saw the progress", `Number(document.querySelector("#c-ok").textContent) >= 600`, statusDiag, 20*time.Second)
	// A few more polls after that one, with the counts moving.
	release(20)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if n, _ := f.count("status"); n >= s0+4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 4 status polls in 20 s while the socket was refused")
		}
		time.Sleep(100 * time.Millisecond)
	}
	s1, sb1 := f.count("status")
	r1, rb1 := f.count("results")
	polls := s1 - s0
	if polls < 1 {
		t.Fatalf("no status poll while the socket was refused")
	}
	perPoll := float64((sb1-sb0)+(rb1-rb0)) / float64(polls)
	t.Logf("polling a 10,000-document job: %d polls, %d results requests, %.1f KB per poll (was %.1f KB: every row on every poll)", polls, r1-r0, perPoll/1e3, float64(allBytes)/1e3)
	if r1-r0 > polls {
		t.Errorf("%d results requests for %d polls; want at most one page per poll", r1-r0, polls)
	}
	if perPoll*20 > float64(allBytes) {
		t.Errorf("%.0f bytes per poll; want well under a twentieth of all rows (%d bytes)", perPoll, allBytes)
	}
	f.mu.Lock()
	for _, l := range f.limits {
		if l != "100" {
			t.Errorf("a results request asked for limit=%q; want pages of 100", l)
		}
	}
	f.mu.Unlock()

	// Cancel, then the audit trail: the cancel is on its first page.
	p.do("cancel", 10*time.Second, chromedp.Click(chromedp.CSS("[data-action=cancel]")), chromedp.Click(chromedp.CSS("#cancel-yes")))
	p.waitFor("cancel accepted", `document.querySelector("#job-status").textContent !== "processing"`, statusDiag, 10*time.Second)
	close(gate) // the documents held at the gate may end now
	p.waitFor("cancelled", `document.querySelector("#job-status").textContent === "cancelled"`, statusDiag, 60*time.Second)
	p.do("audit tab", 5*time.Second, chromedp.Click(chromedp.CSS("#tab-audit")))
	p.waitFor("the cancel in the audit trail, one click away", `document.querySelector('#timeline li[data-type=JobCancelled]')`, `document.querySelector("#timeline").textContent.slice(0, 300)`, 10*time.Second)
	if n := eval[int](p, `document.querySelectorAll("#timeline li").length`); n > 5 {
		t.Errorf("%d audit entries by default; want the job-level ones only", n)
	}
	// With document events, "Jump to latest" reaches the end in one click.
	p.do("document events", 5*time.Second, chromedp.Click(chromedp.CSS("#audit-docs")))
	p.waitFor("first page of every event", `document.querySelectorAll("#timeline li").length > 100`, `document.querySelector("#audit-note").textContent`, 10*time.Second)
	p.do("jump to latest", 5*time.Second, chromedp.Click(chromedp.CSS("#audit-latest")))
	p.waitFor("latest events shown", `document.querySelector('#timeline li[data-type=JobCancelled]')`, `document.querySelector("#timeline").textContent.slice(0, 300)`, 10*time.Second)
	if n := eval[int](p, domNodes); n > 5000 {
		t.Errorf("%d DOM nodes with a page of audit events", n)
	}
	p.keepShot("10k")
	if bad := p.problems(); len(bad) > 0 {
		t.Errorf("page errors or CSP violations: %q", bad)
	}
}

func waitProcessed(t *testing.T, e *env, u user, job string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st := e.status(u, job); st["processed_count"].(float64) >= float64(n) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("job %s never reached %d tagged documents", job, n)
}

type page1 struct {
	body []byte
	next string
}

func authGet(e *env, u user, path string) (page1, error) {
	req, _ := http.NewRequest("GET", e.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return page1{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return page1{}, err
	}
	out := page1{body: body}
	var m struct {
		Next any `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return page1{}, err
	}
	if m.Next != nil {
		out.next = fmt.Sprint(m.Next)
	}
	return out, nil
}
