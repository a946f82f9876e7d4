package main

// Browser tests of the job page's model use, ETA and webhook delivery log
// (issue 14 item 4, issue 15 item 4), and of `batch status`'s ETA.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tagstream/tagstream/internal/webhook"
	"github.com/tagstream/tagstream/services/pipeline"
)

// usageTagger is the gated fake tagger reporting model use: one call of
// 100 prompt and 20 completion tokens at $0.0125 per document, except
// "Doc 4" (a model without a price) and "Doc 5" (from the cache, no call).
type usageTagger struct{ *fakeTagger }

func (u usageTagger) Tag(ctx context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
	out, err := u.fakeTagger.Tag(ctx, in)
	if err != nil {
		return out, err
	}
	md := &out.Metadata
	known := true
	switch in.Document.Title {
	case "Doc 4":
		known = false
		md.Calls, md.PromptTokens, md.CompletionTokens, md.CostKnown = 1, 100, 20, &known
	case "Doc 5":
		md.CachedFrom = 1
	default:
		md.Calls, md.PromptTokens, md.CompletionTokens, md.CostUSD, md.CostKnown = 1, 100, 20, 0.0125, &known
	}
	return out, nil
}

// countingFront serves the console and proxies the API from one origin,
// counting the requests per API path suffix (status, eta, webhooks).
type countingFront struct {
	url string
	mu  sync.Mutex
	n   map[string]int
}

func newCountingFront(t *testing.T, e *env) *countingFront {
	t.Helper()
	f := &countingFront{n: map[string]int{}}
	f.url = consoleFront(t, e, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			f.mu.Lock()
			f.n[r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]]++
			f.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	}, nil)
	return f
}

func (f *countingFront) count(last string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[last]
}

const usageDiag = `["#job-status","#c-ok","#u-calls","#u-tokens","#u-cost","#u-cached","#u-eta"].map(s => document.querySelector(s).textContent).join(" | ") + " eta hidden=" + document.querySelector("#eta-box").hidden`

// TestWebConsoleUsageAndETA: the job page shows calls, tokens, cost (with
// the unpriced count) and cache hits growing as documents finish, from
// the live messages (no status poll); the ETA reads "-" until the server
// has a rate, then a time, and is gone while paused and once finished;
// `batch status` prints the same ETA; analytics shows cost per model and
// day.
func TestWebConsoleUsageAndETA(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	tagger := usageTagger{&fakeTagger{}}
	gate := make(chan struct{})
	tagger.setGate(gate)
	cfg := testConfig(t)
	// Documents wait at the gate while the browser checks the page; on a
	// loaded machine that takes longer than the harness's 30 s deadline.
	cfg.DocTimeout = 5 * time.Minute
	e := startEnv(t, cfg, tagger)
	f := newCountingFront(t, e)
	u := e.register("usage@example.com")
	job := e.startJob(u, 6, nil)

	p := newPage(t, 1024, 900)
	p.do("open the job", 20*time.Second, chromedp.Navigate(f.url+"/#/jobs/"+job))
	p.waitFor("sign-in shown", `document.body.dataset.ready === "1" && !document.querySelector("#view-auth").hidden`, `location.hash`, 10*time.Second)
	logIn(p, u.email)
	p.waitFor("processing, live, ETA unknown", `document.querySelector("#job-status").textContent === "processing" && document.querySelector("#job-conn").dataset.mode === "live"
		&& !document.querySelector("#eta-box").hidden && document.querySelector("#u-eta").textContent === "-" && document.querySelector("#u-calls").textContent === "0"`, usageDiag, 15*time.Second)

	statusReads := f.count("status")
	// One document at a time, so their outcomes have distinct times.
	for i := 1; i <= 3; i++ {
		gate <- struct{}{}
		p.waitFor(fmt.Sprintf("%d tagged", i), fmt.Sprintf(`document.querySelector("#c-ok").textContent === "%d"`, i), usageDiag, 10*time.Second)
	}
	// The three released are among Doc 0..5 in any order: read what the
	// server says they cost and expect the page to show the same.
	st := e.status(u, job)
	us := st["usage"].(map[string]any)
	want := fmt.Sprintf("%v|%v prompt · %v completion", us["model_calls"], us["prompt_tokens"], us["completion_tokens"])
	p.waitFor("usage grown live", fmt.Sprintf(`document.querySelector("#u-calls").textContent + "|" + document.querySelector("#u-tokens").textContent === %q`, want), usageDiag, 10*time.Second)
	if us["model_calls"].(float64)+us["cached"].(float64) != 3 {
		t.Fatalf("usage after 3 documents: %v", us)
	}
	p.waitFor("an ETA from the rate", `/^\d+ (s|min)/.test(document.querySelector("#u-eta").textContent)`, usageDiag, 10*time.Second)
	if n := f.count("status") - statusReads; n != 0 {
		t.Errorf("%d status reads while the socket was up; usage must come with the live messages", n)
	}
	if f.count("eta") == 0 {
		t.Error("the ETA was never read from the server")
	}

	// The CLI prints the same ETA for the running job.
	clientEnv(t)
	login(t, f.url, u.email)
	out := ok(t, "batch", "status", job).stdout
	if !strings.Contains(out, "ETA:") || !strings.Contains(out, "documents/min") {
		t.Fatalf("batch status of a running job lacks its ETA:\n%s", out)
	}

	// Paused: no ETA. Resumed: the window starts afresh, "-" again.
	e.mustCall("POST", "/api/batch/jobs/"+job+"/pause", u.token, map[string]any{}, http.StatusOK)
	p.waitFor("paused, no ETA", `document.querySelector("#job-status").textContent === "paused" && document.querySelector("#eta-box").hidden`, usageDiag, 10*time.Second)
	if out := ok(t, "batch", "status", job).stdout; strings.Contains(out, "ETA") {
		t.Errorf("batch status of a paused job shows an ETA:\n%s", out)
	}
	e.mustCall("POST", "/api/batch/jobs/"+job+"/resume", u.token, map[string]any{}, http.StatusOK)
	p.waitFor("resumed, ETA unknown again", `document.querySelector("#job-status").textContent === "processing" && !document.querySelector("#eta-box").hidden && document.querySelector("#u-eta").textContent === "-"`, usageDiag, 10*time.Second)

	close(gate)
	p.waitFor("completed, no ETA", `document.querySelector("#job-status").textContent === "completed" && document.querySelector("#eta-box").hidden`, usageDiag, 20*time.Second)
	// 5 calls (Doc 5 came from the cache), 4 of them priced.
	p.waitFor("final usage", `document.querySelector("#u-calls").textContent === "5" && document.querySelector("#u-cached").textContent === "1"`, usageDiag, 10*time.Second)
	if got := p.text("#u-cost"); got != "$0.0500 (1 document unpriced)" {
		t.Errorf("cost shows %q; want $0.0500 (1 document unpriced)", got)
	}
	if got := p.text("#u-tokens"); got != "500 prompt · 100 completion" {
		t.Errorf("tokens show %q", got)
	}
	if out := ok(t, "batch", "status", job).stdout; strings.Contains(out, "ETA") {
		t.Errorf("batch status of a finished job shows an ETA:\n%s", out)
	}
	p.keepShot("job-usage")

	// Analytics: cost per model and day, with the total.
	p.do("open analytics", 10*time.Second, chromedp.Evaluate[chromedp.Void](`location.hash = "#/analytics"`))
	p.waitFor("cost per model and day", `!!document.querySelector("#cost-per-model-day")`, `document.querySelector("#analytics").textContent`, 10*time.Second)
	day := time.Now().UTC().Format("2006-01-02")
	row := eval[string](p, `Array.from(document.querySelectorAll("#cost-per-model-day tbody tr")).map(r => Array.from(r.children).map(c => c.textContent).join("|")).join("\n")`)
	if !strings.Contains(row, day+"|builtin/keywords|6|5|500|100|1|$0.0500") || !strings.Contains(row, "Total|$0.0500") {
		t.Errorf("cost per model and day:\n%s\nwant %s, builtin/keywords, 6 documents, 5 calls, $0.0500", row, day)
	}
	if probs := p.problems(); len(probs) > 0 {
		t.Errorf("page problems: %v", probs)
	}
}

// TestWebConsoleWebhookLog: a job with a callback ends; a real loopback
// receiver verifies the Standard Webhooks signature and fails the first
// delivery; the job page lists both attempts (HTTP 500 with its next
// retry, then delivered) without the callback URL's token or the secret;
// the log has the job's access rules; a job without a callback shows no
// delivery log.
func TestWebConsoleWebhookLog(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	secret := webhook.NewSecret()
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	var calls, verified atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%s.%s", r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), b)
		if r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) || r.URL.Query().Get("token") != "hook-token-42" {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		verified.Add(1)
		if calls.Add(1) == 1 {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)

	cfg := testConfig(t)
	cfg.WebhookSecret, cfg.AllowPrivate = secret, true
	cfg.webhookRetry = 300 * time.Millisecond
	e := startEnv(t, cfg, &fakeTagger{})
	f := newCountingFront(t, e)
	u := e.register("hooklog@example.com")
	job := e.startJob(u, 2, map[string]any{"config": map[string]any{"model_name": "builtin/keywords", "callback_url": recv.URL + "/hook?token=hook-token-42"}})
	plain := e.startJob(u, 1, nil)
	e.waitStatus(u, job, 30*time.Second, "completed")
	e.waitStatus(u, plain, 30*time.Second, "completed")

	p := newPage(t, 1024, 900)
	p.do("open the job", 20*time.Second, chromedp.Navigate(f.url+"/#/jobs/"+job))
	p.waitFor("sign-in shown", `document.body.dataset.ready === "1" && !document.querySelector("#view-auth").hidden`, `location.hash`, 10*time.Second)
	logIn(p, u.email)
	const rows = `Array.from(document.querySelectorAll("#hooks-table tbody tr")).map(r => r.dataset.attempt + ":" + r.dataset.delivered + ":" + Array.from(r.children).map(c => c.textContent).join("|")).join("\n")`
	p.waitFor("both attempts listed", `!document.querySelector("#panel-hooks").hidden && document.querySelectorAll("#hooks-table tbody tr[data-delivered='1']").length === 1`, rows, 30*time.Second)
	got := strings.Split(eval[string](p, rows), "\n")
	if len(got) != 2 || !strings.HasPrefix(got[0], "1:0:") || !strings.Contains(got[0], "|job.completed|1|HTTP 500: receiver answered 500 Internal Server Error|") ||
		strings.HasSuffix(got[0], "|–") || !strings.HasPrefix(got[1], "2:1:") || !strings.Contains(got[1], "|delivered (HTTP 204)|") {
		t.Fatalf("delivery log rows:\n%s\nwant a failed attempt 1 (HTTP 500, with its next retry) and a delivered attempt 2", strings.Join(got, "\n"))
	}
	if calls.Load() != 2 || verified.Load() != 2 {
		t.Errorf("receiver saw %d deliveries, %d verified; want 2 and 2", calls.Load(), verified.Load())
	}
	p.keepShot("webhook-log")
	html := eval[string](p, `document.documentElement.outerHTML`)
	for _, s := range []string{"hook-token-42", strings.TrimPrefix(secret, "whsec_"), recv.URL} {
		if strings.Contains(html, s) {
			t.Errorf("the page shows %q", s)
		}
	}

	// The API: the same attempts, no URL nor secret; others' 404.
	st, body := e.call("GET", "/api/batch/jobs/"+job+"/webhooks", u.token, nil)
	raw, _ := json.Marshal(body)
	if st != http.StatusOK || body["callback"] != true || len(body["attempts"].([]any)) != 2 {
		t.Fatalf("webhooks: %d %s", st, raw)
	}
	for _, s := range []string{"hook-token-42", strings.TrimPrefix(secret, "whsec_"), recv.URL} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the delivery log answers %q", s)
		}
	}
	other := e.register("stranger@example.com")
	if st, _ := e.call("GET", "/api/batch/jobs/"+job+"/webhooks", other.token, nil); st != http.StatusNotFound {
		t.Errorf("another user's delivery log: %d, want 404", st)
	}

	// A job without a callback has no delivery log on its page.
	p.do("open the plain job", 10*time.Second, chromedp.Evaluate[chromedp.Void](`location.hash = "#/jobs/`+plain+`"`))
	p.waitFor("plain job shown", `document.querySelector("#job-id").textContent === "`+plain+`" && document.querySelector("#job-status").textContent === "completed"`, statusDiag, 10*time.Second)
	if !eval[bool](p, `document.querySelector("#panel-hooks").hidden`) {
		t.Error("a job without a callback shows a delivery log")
	}
	if n := f.count("webhooks"); n == 0 {
		t.Error("the page never read the delivery log")
	}
	if probs := p.problems(); len(probs) > 0 {
		t.Errorf("page problems: %v", probs)
	}
}
