package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/natsx"
	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/services/pipeline"
)

func startEnvLog(t *testing.T, cfg config, tagger pipeline.Tagger) (*env, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := openApp(ctx, cfg, roles{api: true, workers: true}, tagger, log)
	if err != nil {
		cancel()
		t.Fatalf("open app: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, app: a, url: "http://" + ln.Addr().String(), stop: cancel, done: make(chan error, 1)}
	go func() { e.done <- a.run(ctx, ln) }()
	t.Cleanup(e.shutdown)
	return e, buf
}

// scrape fetches /metrics and parses the text exposition.
func scrape(t *testing.T, e *env) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return string(raw), fams
}

// sample finds the metric of family name whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := sample(fams, name, labels)
	switch {
	case m == nil:
		t.Fatalf("no sample %s%v", name, labels)
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("%s%v has no value", name, labels)
	return 0
}

const metricsTestKey = "sk-metrics-test-0123456789abcdef"

// TestMetricsAfterJobs runs one job with a failing document and one whose
// key is refused, then checks that every family moved with bounded labels
// and that neither job ids, user data nor the API key reach /metrics, and
// that every worker log line names its job and row.
func TestMetricsAfterJobs(t *testing.T) {
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		switch {
		case in.Config.Model == "bad/key":
			return &pipeline.Failure{Code: "llm_auth", Reason: "invalid API key for model bad/key", JobFatal: true}
		case in.Document.Row == 1:
			return &pipeline.Failure{Code: "fetch_not_found", Reason: "no such file: doc-1.pdf"}
		}
		return nil
	}}
	e, logs := startEnvLog(t, testConfig(t), tagger)
	u := e.register("metrics@example.com")
	start := func(model string) string {
		docs := []map[string]any{}
		for _, p := range []string{"doc-0.pdf", "doc-1.pdf", "doc-2.pdf"} {
			docs = append(docs, map[string]any{"file_path": p})
		}
		out := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
			"config": map[string]any{"model_name": model, "api_key": metricsTestKey}}, http.StatusOK)
		return out["job_id"].(string)
	}
	good := start("openai/gpt-4o-mini")
	st := e.waitStatus(u, good, 30*time.Second, "completed")
	if st["failed_count"].(float64) != 1 || st["processed_count"].(float64) != 2 {
		t.Fatalf("status %v", st)
	}
	bad := start("bad/key")
	e.waitStatus(u, bad, 30*time.Second, "failed")
	// A query string must reach neither the logs nor the metrics (the
	// unknown parameter is refused, naming it but not its value).
	e.mustCall("GET", "/api/batch/jobs/"+good+"/results?limit=1&probe=query-secret-xyz", u.token, nil, http.StatusBadRequest)

	// Workers may still be settling the failed job's tasks: wait for idle.
	raw, fams := scrape(t, e)
	for deadline := time.Now().Add(10 * time.Second); value(t, fams, "tagstream_documents_in_flight", nil) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("documents still in flight 10s after the jobs ended")
		}
		time.Sleep(20 * time.Millisecond)
		raw, fams = scrape(t, e)
	}
	if testing.Verbose() && os.Getenv("TAGSTREAM_TEST_METRICS") != "" {
		t.Log(raw)
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tagstream_documents_processed_total", nil, 2},
		{"tagstream_documents_failed_total", map[string]string{"code": "fetch_not_found"}, 1},
		{"tagstream_document_duration_seconds", map[string]string{"outcome": "tagged"}, 2},
		{"tagstream_jobs", map[string]string{"status": "completed"}, 1},
		{"tagstream_jobs", map[string]string{"status": "failed"}, 1},
		{"tagstream_jobs", map[string]string{"status": "processing"}, 0},
		{"tagstream_documents_in_flight", nil, 0},
		{"tagstream_metrics_source_up", map[string]string{"source": "event_log"}, 1},
		{"tagstream_metrics_source_up", map[string]string{"source": "task_queue"}, 1},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The refused key fails each document that reached the model before
	// the job failed: at least one, under its code.
	if n := value(t, fams, "tagstream_documents_failed_total", map[string]string{"code": "llm_auth"}); n < 1 {
		t.Errorf("llm_auth failures = %v", n)
	}
	if n := value(t, fams, "tagstream_document_duration_seconds", map[string]string{"outcome": "failed"}); n < 2 {
		t.Errorf("failed-document durations observed %v times, want >= 2", n)
	}
	route := map[string]string{"route": "/api/batch/jobs/:job_id/status", "status": "2xx"}
	if n := value(t, fams, "tagstream_http_request_duration_seconds", route); n < 1 {
		t.Errorf("status route observed %v times", n)
	}
	applied := value(t, fams, "tagstream_read_models_applied_sequence", nil)
	last := value(t, fams, "tagstream_event_log_last_sequence", nil)
	if lag := value(t, fams, "tagstream_read_models_lag_events", nil); applied == 0 || lag != max(0, last-applied) {
		t.Errorf("applied %v, last %v, lag %v", applied, last, lag)
	}
	value(t, fams, "tagstream_task_backlog", nil)
	for _, f := range []string{"go_goroutines", "process_start_time_seconds"} {
		if fams[f] == nil {
			t.Errorf("no %s: Go/process collectors missing", f)
		}
	}
	for _, secret := range []string{good, bad, metricsTestKey, u.id, u.email, "query-secret-xyz", "doc-1.pdf"} {
		if strings.Contains(raw, secret) {
			t.Errorf("/metrics contains %q", secret)
		}
	}

	checkLogs(t, logs.String(), []string{good, bad})
}

// checkLogs: every line is JSON; every worker line carries job_id and row;
// one debug request line per request with the route and without a query;
// the key and the query never appear.
func checkLogs(t *testing.T, out string, jobs []string) {
	t.Helper()
	workerLines, httpLines := 0, 0
	seenJobs := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		msg, _ := rec["msg"].(string)
		switch {
		case strings.HasPrefix(msg, "worker:"):
			workerLines++
			job, _ := rec["job_id"].(string)
			if _, ok := rec["row"].(float64); !ok || job == "" {
				t.Errorf("worker log line without job_id/row: %s", line)
			}
			seenJobs[job] = true
		case msg == "http":
			httpLines++
			if rec["route"] == nil || rec["status"] == nil {
				t.Errorf("request line without route/status: %s", line)
			}
		}
	}
	if workerLines == 0 || httpLines == 0 {
		t.Fatalf("%d worker and %d http log lines; want both", workerLines, httpLines)
	}
	for _, j := range jobs {
		if !seenJobs[j] {
			t.Errorf("no worker log line for job %s", j)
		}
	}
	if !strings.Contains(out, `"route":"/api/batch/jobs/:job_id/results"`) {
		t.Error("no request line for the results route")
	}
	for _, s := range []string{metricsTestKey, "query-secret-xyz", "probe="} {
		if strings.Contains(out, s) {
			t.Errorf("logs contain %q", s)
		}
	}
}

// TestReadyFollowsNATS runs against an external NATS server, stops it and
// starts it again on the same store: /api/ready (and /api/health) go 200,
// 503 naming nats, 200.
func TestReadyFollowsNATS(t *testing.T) {
	addr := freeAddr(t)
	store := t.TempDir()
	ns, err := natsx.StartEmbedded(store, addr, testNATSAuth)
	if err != nil {
		t.Fatal(err)
	}
	var nsMu sync.Mutex
	t.Cleanup(func() { // after the env's own cleanup (LIFO)
		nsMu.Lock()
		defer nsMu.Unlock()
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	cfg := testConfig(t)
	cfg.NatsURL = "nats://" + addr
	e := startEnv(t, cfg, &fakeTagger{})

	ready := func() (int, map[string]any) {
		st, body := e.call("GET", "/api/ready", "", nil)
		return st, body
	}
	waitReady := func(want int) map[string]any {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st, body := ready()
			if st == want {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("/api/ready stayed %d %v, want %d", st, body, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	body := waitReady(http.StatusOK)
	if body["status"] != "ready" {
		t.Fatalf("ready body %v", body)
	}

	nsMu.Lock()
	ns.Shutdown()
	ns.WaitForShutdown()
	nsMu.Unlock()
	body = waitReady(http.StatusServiceUnavailable)
	failed, _ := body["failed"].([]any)
	if len(failed) != 1 || failed[0] != "nats" || body["status"] != "not_ready" {
		t.Fatalf("not-ready body %v, want failed [nats]", body)
	}
	if st, _ := e.call("GET", "/api/health", "", nil); st != http.StatusServiceUnavailable {
		t.Errorf("/api/health = %d while NATS is down", st)
	}

	nsMu.Lock()
	ns, err = natsx.StartEmbedded(store, addr, testNATSAuth)
	nsMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	waitReady(http.StatusOK)
}

// TestModelMetricsThroughPipeline tags corpus PDFs with the production
// pipeline against the fake provider, whose first answer is a 429: call
// latency by model and outcome, tokens and the rate-limit wait all show.
func TestModelMetricsThroughPipeline(t *testing.T) {
	root := testenv.Corpus(t)
	llm := llmfake.New(t, llmfake.Options{Latency: time.Millisecond, Key: metricsTestKey,
		Status: func(r llmfake.Request) (int, string) {
			if r.N == 0 {
				return http.StatusTooManyRequests, "1"
			}
			return 0, ""
		}})
	cfg := testConfig(t)
	cfg.LocalRoot, cfg.LLMBaseURL, cfg.Workers = root, llm.BaseURL(), 1
	e := startEnv(t, cfg, newTagger(cfg, testLogger()))
	u := e.register("model@example.com")
	out := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{
		"documents": []map[string]any{{"file_path": "circular-water.pdf"}, {"file_path": "tender-notice.pdf"}},
		"config":    map[string]any{"model_name": "openai/gpt-4o-mini", "api_key": metricsTestKey, "num_tags": 5}}, http.StatusOK)
	job := out["job_id"].(string)
	if st := e.waitStatus(u, job, 60*time.Second, "completed", "failed"); st["processed_count"].(float64) != 2 {
		t.Fatalf("status %v", st)
	}
	raw, fams := scrape(t, e)
	model := map[string]string{"model": "openai/gpt-4o-mini"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range model {
			m[a] = b
		}
		return m
	}
	if n := value(t, fams, "tagstream_llm_call_duration_seconds", with("outcome", "ok")); n < 2 {
		t.Errorf("ok calls observed %v, want >= 2", n)
	}
	if n := value(t, fams, "tagstream_llm_call_duration_seconds", with("outcome", "rate_limited")); n != 1 {
		t.Errorf("rate-limited calls observed %v, want 1", n)
	}
	if n := value(t, fams, "tagstream_llm_tokens_total", with("kind", "prompt")); n < 240 {
		t.Errorf("prompt tokens %v, want >= 2 x 120", n)
	}
	if n := value(t, fams, "tagstream_llm_tokens_total", with("kind", "completion")); n < 80 {
		t.Errorf("completion tokens %v, want >= 2 x 40", n)
	}
	if n := value(t, fams, "tagstream_llm_rate_limit_waits_total", nil); n < 1 {
		t.Errorf("rate-limit waits %v", n)
	}
	if s := value(t, fams, "tagstream_llm_rate_limit_wait_seconds_total", nil); s < 1 {
		t.Errorf("rate-limit wait seconds %v, want >= the 1s Retry-After", s)
	}
	if strings.Contains(raw, metricsTestKey) || strings.Contains(raw, job) {
		t.Error("/metrics leaks the key or the job id")
	}
}
