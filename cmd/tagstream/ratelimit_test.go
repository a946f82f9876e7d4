package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/testenv"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// Rate-limit behaviour of the real pipeline (production tagger: local
// fetch, pdftext, llm client with its pacers and retries) against the fake
// OpenAI-compatible provider answering 429 with Retry-After and
// x-ratelimit-* headers.

// rlRequest is one request as the fake saw it, timed on the server side.
type rlRequest struct {
	key     string    // Authorization bearer
	title   string    // document title from the prompt
	arrived time.Time // when the handler started
	status  int
	retry   time.Duration // Retry-After given with a 429
	replied time.Time     // when the 429 was written (the "429 time")
	id      int64         // the fake's call number, echoed in X-Test-Call
	sent    time.Time     // client side: when the request entered the transport
}

// rlFake puts a recorder in front of the shared fake provider (llmfake),
// whose Status hook asks decide whether to answer 429 (with Retry-After
// and x-ratelimit-* headers, or bare when retryAfter is 0); it records
// every request as the fake saw it.
type rlFake struct {
	srv *httptest.Server
	llm *llmfake.Server
	ids atomic.Int64
	mu  sync.Mutex
	log []rlRequest
}

// concurrency returns the peak and the time-weighted mean of the
// requests in flight at the fake.
func (f *rlFake) concurrency() (peak int, mean float64) { return f.llm.Concurrency() }

var titleLine = regexp.MustCompile(`(?m)^Title: (.*)$`)

func newRLFake(t *testing.T, latency time.Duration, decide func(n int64, inflight int) (limited bool, retryAfter int)) *rlFake {
	f := &rlFake{}
	f.llm = llmfake.New(t, llmfake.Options{Latency: latency, Status: func(r llmfake.Request) (int, string) {
		limited, retry := decide(int64(r.N+1), r.InFlight)
		switch {
		case !limited:
			return 0, ""
		case retry > 0:
			return http.StatusTooManyRequests, strconv.Itoa(retry)
		}
		return http.StatusTooManyRequests, "" // a bare 429, no hint
	}})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// statusWriter notes the status a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (f *rlFake) serve(w http.ResponseWriter, r *http.Request) {
	rec := rlRequest{arrived: time.Now(), key: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req struct {
		Messages []struct {
			Content any `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(body, &req)
	for _, m := range req.Messages {
		raw, _ := json.Marshal(m.Content)
		var s string
		_ = json.Unmarshal(raw, &s)
		if s == "" {
			s = string(raw)
		}
		if mm := titleLine.FindStringSubmatch(s); mm != nil {
			rec.title = strings.TrimSpace(mm[1])
			break
		}
	}
	if ns, err := strconv.ParseInt(r.Header.Get("X-Test-Sent"), 10, 64); err == nil {
		rec.sent = stampBase.Add(time.Duration(ns))
	}
	rec.id = f.ids.Add(1)
	w.Header().Set("X-Test-Call", strconv.FormatInt(rec.id, 10))
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	f.llm.ServeHTTP(sw, r)
	rec.status = sw.status
	if rec.status == http.StatusTooManyRequests {
		if secs, err := strconv.Atoi(w.Header().Get("Retry-After")); err == nil {
			rec.retry = time.Duration(secs) * time.Second
		}
		_ = http.NewResponseController(w).Flush()
		rec.replied = time.Now() // the "429 time": written and flushed
	}
	f.mu.Lock()
	f.log = append(f.log, rec)
	f.mu.Unlock()
}

func (f *rlFake) requests() []rlRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]rlRequest(nil), f.log...)
	sort.Slice(out, func(i, j int) bool { return out[i].arrived.Before(out[j].arrived) })
	return out
}

// rlEnv starts the service with the production tagger over the local corpus.
func rlEnv(t *testing.T, workers int, fake *rlFake, tune ...func(*config)) (*env, user) {
	t.Helper()
	if testing.Short() {
		t.Skip("rate-limit test skipped in -short mode")
	}
	testenv.CorpusFile(t, "groff-report.pdf")
	root := testenv.Corpus(t)
	cfg := testConfig(t)
	cfg.Workers = workers
	cfg.LocalRoot = root
	cfg.LLMBaseURL = fake.srv.URL + "/v1"
	cfg.DocTimeout = 5 * time.Minute
	cfg.AckWait = 30 * time.Second
	for _, f := range tune {
		f(&cfg)
	}
	e := startEnv(t, cfg, newTagger(cfg, testLogger()))
	return e, e.register("ratelimit@example.com")
}

const rlKey = "sk-ratelimit-test-0001"

// rlStart starts a job of n local corpus documents with a job API key.
func rlStart(e *env, u user, n int) string {
	// The smaller text PDFs of the corpus: extraction stays cheap, so even
	// under the race detector 32 workers keep many model calls in flight.
	files := []string{"circular-water.pdf", "tender-notice.pdf", "groff-report.pdf", "circular-hindi.pdf"}
	docs := make([]any, n)
	for i := range docs {
		docs[i] = map[string]any{"file_path": files[i%len(files)], "title": fmt.Sprintf("rl-doc-%03d", i)}
	}
	out := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"api_key": rlKey, "model_name": "openai/gpt-4o-mini", "num_tags": 5, "cache": false}}, http.StatusOK)
	return out["job_id"].(string)
}

// rlCheckDone asserts the job completed with every document tagged.
func rlCheckDone(t *testing.T, e *env, u user, job string, n int) {
	t.Helper()
	final := e.waitStatus(u, job, 3*time.Minute, "completed", "failed", "cancelled")
	if final["status"] != "completed" || final["processed_count"].(float64) != float64(n) || final["failed_count"].(float64) != 0 {
		rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results?limit=1000", u.token, nil, http.StatusOK)["results"].([]any)
		reasons := map[string]int{}
		for _, r := range rows {
			if m := r.(map[string]any); m["status"] != "success" {
				reasons[fmt.Sprint(m["error"])]++
			}
		}
		t.Fatalf("job did not complete cleanly: %v; failure reasons: %v", final, reasons)
	}
}

// TestRateLimit429RetryAfterHonoured: 30% of calls (every call whose
// counter mod 10 is below 3) answer 429 with Retry-After: 1. The job must
// complete with no failed document, and no request may reach the fake
// inside a Retry-After window it had been given.
func TestRateLimit429RetryAfterHonoured(t *testing.T) {
	const n = 200
	fake := newRLFake(t, 0, func(c int64, _ int) (bool, int) { return c%10 < 3, 1 })
	st := stampDefaultTransport(t, fake)
	e, u := rlEnv(t, 32, fake)
	job := rlStart(e, u, n)
	rlCheckDone(t, e, u, job, n)

	reqs := fake.requests()
	var limited, ok int
	for _, r := range reqs {
		if r.key != rlKey {
			t.Fatalf("request with key %q, want the job's key", r.key)
		}
		if r.status == http.StatusTooManyRequests {
			limited++
		} else {
			ok++
		}
	}
	t.Logf("%d requests: %d answered 429, %d answered 200", len(reqs), limited, ok)
	if limited == 0 {
		t.Fatal("the fake never answered 429; the test proves nothing")
	}
	rlCheckRetryAfter(t, reqs, st)
}

// stampBase makes the stamps monotonic: offsets from one time.Time with a
// monotonic reading, immune to steps of the wall clock.
var stampBase = time.Now()

// stampTransport wraps the process's default transport, which the
// production llm client uses: it stamps each request to the fake with the
// time it entered the transport (after the client's last pacer check) and
// notes when each 429 came back, so the checks below can tell a request
// that was already on its way when a 429 was written from one that the
// client sent after it knew.
type stampTransport struct {
	next http.RoundTripper
	host string
	mu   sync.Mutex
	rcvd map[int64]time.Time // fake call number of a 429 -> when the client got it
}

func (s *stampTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != s.host {
		return s.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.Header.Set("X-Test-Sent", strconv.FormatInt(int64(time.Since(stampBase)), 10))
	resp, err := s.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		now := time.Now()
		if id, perr := strconv.ParseInt(resp.Header.Get("X-Test-Call"), 10, 64); perr == nil {
			s.mu.Lock()
			s.rcvd[id] = now
			s.mu.Unlock()
		}
	}
	return resp, err
}

func (s *stampTransport) received(id int64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.rcvd[id]
	return t, ok
}

// stampDefaultTransport installs a stampTransport for the fake until the
// test ends. Call it before the service starts: the cleanup then runs
// after the service has shut down.
func stampDefaultTransport(t *testing.T, fake *rlFake) *stampTransport {
	orig := http.DefaultTransport
	// The llm client pools connections like this when the default
	// transport is net/http's own.
	next := orig.(*http.Transport).Clone()
	next.MaxIdleConnsPerHost = 256
	st := &stampTransport{next: next, host: strings.TrimPrefix(fake.srv.URL, "http://"), rcvd: map[int64]time.Time{}}
	http.DefaultTransport = st
	t.Cleanup(func() { http.DefaultTransport = orig })
	return st
}

// knewSlack covers the few instructions between the transport handing a
// 429 back and the llm client blocking its pacers (and between a client's
// last pacer check and its request entering the transport). It is not a
// performance assertion: a client that ignores Retry-After keeps sending
// all through the window.
const knewSlack = 20 * time.Millisecond

// rlCheckRetryAfter checks that no request arrived at the fake inside a
// Retry-After window the client had been given.
//
// Per document the check is exact: a document's next request is caused by
// the 429 its previous one got, so it must arrive at or after
// 429time+RetryAfter (server-side times). Per key (all requests of the job
// share one key) every request that the client sent after it had received
// a 429 must arrive at or after that 429's time plus its Retry-After.
// Requests already on their way when the 429 was written may arrive
// inside the window: they are counted, not failed.
func rlCheckRetryAfter(t *testing.T, reqs []rlRequest, st *stampTransport) {
	t.Helper()
	byDoc := map[string][]rlRequest{}
	for _, r := range reqs {
		byDoc[r.title] = append(byDoc[r.title], r)
	}
	for title, rs := range byDoc {
		for i := 0; i+1 < len(rs); i++ {
			if rs[i].status != http.StatusTooManyRequests {
				continue
			}
			until := rs[i].replied.Add(rs[i].retry)
			if next := rs[i+1]; next.arrived.Before(until) {
				t.Errorf("document %q: request arrived %v before the end of the Retry-After it was given",
					title, until.Sub(next.arrived))
			}
		}
	}
	violations, inflight, unstamped := 0, 0, 0
	for i, r := range reqs {
		if r.status != http.StatusTooManyRequests {
			continue
		}
		knew, ok := st.received(r.id)
		if !ok {
			t.Errorf("the client never received the 429 of call %d", r.id)
			continue
		}
		until := r.replied.Add(r.retry)
		for _, later := range reqs[i+1:] {
			if later.key != r.key || !later.arrived.Before(until) {
				continue
			}
			switch {
			case later.sent.IsZero():
				unstamped++
			case later.sent.Before(knew.Add(knewSlack)):
				inflight++ // sent before the client could know
			default:
				violations++
				if violations <= 5 {
					t.Errorf("request for %q was sent %v after the client received a 429 with Retry-After %v (given to %q) and arrived %v before it ended",
						later.title, later.sent.Sub(knew), r.retry, r.title, until.Sub(later.arrived))
				}
			}
		}
	}
	if os.Getenv("RL_DEBUG") != "" {
		buckets := map[int][2]int{}
		maxB := 0
		for _, r := range reqs {
			b := int(r.arrived.Sub(reqs[0].arrived) / (250 * time.Millisecond))
			c := buckets[b]
			if r.status == http.StatusTooManyRequests {
				c[1]++
			} else {
				c[0]++
			}
			buckets[b] = c
			maxB = max(maxB, b)
		}
		var sb strings.Builder
		for b := 0; b <= maxB; b++ {
			fmt.Fprintf(&sb, "%d:%v ", b, buckets[b])
		}
		t.Logf("timeline (250ms buckets: [ok 429]): %s", sb.String())
	}
	if unstamped > 0 {
		t.Errorf("%d requests did not go through the stamping transport", unstamped)
	}
	t.Logf("requests inside a Retry-After window that were on their way before the client knew: %d; violations: %d", inflight, violations)
}

// TestRateLimitConcurrencyCap: 32 workers against a provider that allows
// at most 10 requests in flight and answers 429 Retry-After: 1 beyond
// that. What a user cares about: every document is tagged, the provider
// sees no more than its limit plus the limiter's probing margin, and few
// calls are refused. (Whether any is refused depends on how fast the
// machine feeds the model: under -race, extraction may keep fewer than 10
// calls in flight, and then none is, rightly.)
func TestRateLimitConcurrencyCap(t *testing.T) {
	const n, limit = 200, 10
	fake := newRLFake(t, 200*time.Millisecond, func(_ int64, inflight int) (bool, int) { return inflight > limit, 1 })
	st := stampDefaultTransport(t, fake)
	e, u := rlEnv(t, 32, fake)
	job := rlStart(e, u, n)
	rlCheckDone(t, e, u, job, n)
	reqs := fake.requests()
	limited := 0
	for _, r := range reqs {
		if r.status == http.StatusTooManyRequests {
			limited++
		}
	}
	peak, mean := fake.concurrency()
	t.Logf("%d requests, %d answered 429; in flight at the fake: peak %d, mean %.1f", len(reqs), limited, peak, mean)
	// The limiter opens at 8 after the first answer and grows by one per
	// answer until the second 429 of an over-full window comes back;
	// the 429s return at once, so the overshoot is a few requests, never
	// the 32 workers. A fixed pool of 32 put 32 in flight.
	if peak > limit+rlProbeMargin {
		t.Errorf("peak in flight at the fake %d, want at most %d + %d", peak, limit, rlProbeMargin)
	}
	// Without the limiter 371 of 571 calls were refused (65%). The issue's
	// goal, at most 5%, is measured by the benchmark on a quiet machine
	// (BENCHMARKS.md); here a loaded CI machine (seen: 8.7%) must still
	// stay an order of magnitude below the fixed pool.
	if limited*100 > len(reqs)*15 {
		t.Errorf("%d of %d requests answered 429, want at most 15%% (a fixed pool: 65%%)", limited, len(reqs))
	}
	rlCheckRetryAfter(t, reqs, st)
}

// rlProbeMargin is how far above a provider's concurrency cap the
// requests in flight may go while the limiter finds it.
const rlProbeMargin = 4

// TestRateLimitSporadic429sKeepConcurrency: a provider with no limit that
// refuses 1 call in 50 with a bare 429 (no Retry-After): the job's model
// concurrency stays near TAGSTREAM_WORKERS, as in the same job without
// 429s, instead of the limiter and the job's pacer collapsing it.
func TestRateLimitSporadic429sKeepConcurrency(t *testing.T) {
	const n, workers = 120, 8
	run := func(every int64) (peak int, mean float64, limited int) {
		fake := newRLFake(t, 300*time.Millisecond, func(c int64, _ int) (bool, int) { return c%every == 0, 0 })
		e, u := rlEnv(t, workers, fake)
		job := rlStart(e, u, n)
		rlCheckDone(t, e, u, job, n)
		for _, r := range fake.requests() {
			if r.status == http.StatusTooManyRequests {
				limited++
			}
		}
		peak, mean = fake.concurrency()
		return peak, mean, limited
	}
	basePeak, baseMean, _ := run(1 << 40)
	peak, mean, limited := run(50)
	t.Logf("in flight at the fake: peak %d, mean %.1f with %d bare 429s; peak %d, mean %.1f without", peak, mean, limited, basePeak, baseMean)
	if limited == 0 {
		t.Fatal("the fake never answered 429; the test proves nothing")
	}
	// Extraction between calls keeps the mean below the workers, the
	// same with or without 429s (far below under -race on a loaded
	// machine, hence the margin); a collapsed limit or a paced job (a
	// 429 without a hint paced the job at 0.5 s a call: under 1 in
	// flight at this 300 ms latency) far lower.
	if mean < 0.5*baseMean {
		t.Errorf("mean in flight %.1f with sporadic 429s, want at least half the %.1f without", mean, baseMean)
	}
}

// A provider that answers every call 429 (a quota spent): the documents
// are not failed one by one but given back, and after a few in a row the
// job pauses with reason_code model_rate_limited, to be resumed once the
// quota is back (DESIGN: a 429 is not a document failure). Before, each
// document failed after 15 tries ("gave up ... within the document's
// deadline") and the job ended failed, all_failed.
func TestModelThatOnlyRefusesPausesTheJob(t *testing.T) {
	fake := newRLFake(t, 0, func(int64, int) (bool, int) { return true, 1 })
	// A document's calls are retried until its deadline: 10 s, not 5 min.
	e, u := rlEnv(t, 4, fake, func(c *config) { c.DocTimeout = 10 * time.Second })
	job := rlStart(e, u, 12)
	st := e.waitStatus(u, job, 3*time.Minute, "paused", "failed", "completed")
	if st["status"] != "paused" || st["reason_code"] != jobpkg.CodeModelRateLimited || st["failed_count"].(float64) != 0 {
		t.Errorf("status %v, reason_code %v, failed %v; want paused, model_rate_limited, 0 failed", st["status"], st["reason_code"], st["failed_count"])
	}
	for _, env := range e.history(job) {
		if env.Type == events.TypeDocumentFailed {
			ev, _ := env.Decode()
			t.Errorf("a document failed: %+v", ev)
		}
	}
}

// Documents the provider refuses whatever the pace (as a request over a
// per-minute token limit is), among others it answers: their releases may
// make a streak that pauses the job (model_rate_limited), but after a few
// deliveries they fail, with the rate-limit code, and the job completes.
// Released every time instead, they came back for ever: each resume ended
// in the same pause.
func TestDocumentsRefusedWhateverThePaceFailAfterAResume(t *testing.T) {
	f := &rlFake{}
	f.llm = llmfake.New(t, llmfake.Options{Status: func(r llmfake.Request) (int, string) {
		if strings.Contains(r.DocPrompt, "Nagpur") { // tender-notice.pdf
			// With Retry-After: a bare 429 makes the client back off
			// exponentially on the whole key, and with the short deadline
			// below the others would starve too.
			return http.StatusTooManyRequests, "1"
		}
		return 0, ""
	}})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	e, u := rlEnv(t, 4, f, func(c *config) { c.DocTimeout = 5 * time.Second })
	job := rlStart(e, u, 8) // rows 1 and 5 are tender-notice.pdf
	// The refusals may pause the job (the documents they make wait on the
	// key count in the streak too): each resume is an owner's answer to
	// it, and a few must be enough.
	var st map[string]any
	for resumes := 0; ; resumes++ {
		st = e.waitStatus(u, job, 3*time.Minute, "completed", "failed", "paused", "cancelled")
		if st["status"] != "paused" {
			break
		}
		if st["reason_code"] != jobpkg.CodeModelRateLimited || resumes == 3 {
			t.Fatalf("paused (%v, %s) after %d resumes", st["reason_code"], st["reason"], resumes)
		}
		e.mustCall("POST", "/api/batch/jobs/"+job+"/resume", u.token, map[string]any{"reason": "quota raised"}, http.StatusOK)
		e.waitStatus(u, job, time.Minute, "processing", "completed")
	}
	if st["status"] != "completed" || st["processed_count"].(float64) != 6 || st["failed_count"].(float64) != 2 {
		t.Fatalf("status %v (%v), processed %v, failed %v; want completed, 6, 2",
			st["status"], st["reason_code"], st["processed_count"], st["failed_count"])
	}
	for _, env := range e.history(job) {
		if env.Type == events.TypeDocumentFailed {
			ev, _ := env.Decode()
			if f := ev.(*events.DocumentFailed); f.Code != jobpkg.CodeModelRateLimited {
				t.Errorf("row %d failed with %q (%s), want %s", f.Row, f.Code, f.Error, jobpkg.CodeModelRateLimited)
			}
		}
	}
}
