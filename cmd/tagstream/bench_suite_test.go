package main

// The benchmark suite of issue 5 (`task bench`, results in BENCHMARKS.md):
//
//   BenchmarkSuitePipeline    documents/second through the production tagger
//                             (local fetch of a tiny PDF, pdftext, llm client
//                             over HTTP to a fake with 0 or 200 ms latency) at
//                             1, 8, 32 and 128 workers, next to raw JetStream
//                             sync/async publish rates in the same run.
//   BenchmarkSuiteStatusLoad  job-status requests/second and p99 under load
//                             with a job running, next to /api/health.
//   BenchmarkSuiteMemory100k  peak RSS (VmHWM) of a `serve` process running a
//                             100,000-document job, and after a restart.
//   BenchmarkSuiteStartup     time from process start to /api/health and to
//                             /api/ready (read models caught up) with
//                             1,000,000 events in the log: first start,
//                             restart after SIGTERM, restart after SIGKILL.
//
// They report custom metrics; ns/op is meaningless here. Run with
// -benchtime 1x. Nothing here asserts a time.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
)

// tinyPDF returns a valid one-page PDF with a line of Helvetica text, a few
// hundred bytes: fetch and extraction are on the path but cost little.
func tinyPDF() []byte {
	text := "Tagstream benchmark circular on drinking water quality monitoring for rural water supply schemes"
	stream := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", text)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// tinyRoot writes tiny.pdf into a fresh local root.
func tinyRoot(b tb) string {
	root := b.TempDir()
	if err := os.WriteFile(filepath.Join(root, "tiny.pdf"), tinyPDF(), 0o644); err != nil {
		b.Fatal(err)
	}
	return root
}

// newBenchLLM is the fake provider for benchmarks: it keeps no record of
// the many requests.
func newBenchLLM(b tb, latency time.Duration) *llmfake.Server {
	return llmfake.New(b, llmfake.Options{Latency: latency, DropRequests: true})
}

// rawPublishRates measures raw 200-byte JetStream publishes on a fresh
// embedded file-backed server, as BenchmarkJetStreamPublish does.
func rawPublishRates(b *testing.B, nSync, nAsync int) (syncRate, asyncRate float64) {
	payload := []byte(strings.Repeat("x", 200))
	ctx := context.Background()
	conn := natstest.Start(b, "")
	if _, err := conn.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < nSync; i++ {
		if _, err := conn.JS.Publish(ctx, "bench.sync", payload); err != nil {
			b.Fatal(err)
		}
	}
	syncRate = float64(nSync) / time.Since(start).Seconds()
	start = time.Now()
	for i := 0; i < nAsync; i++ {
		if _, err := conn.JS.PublishAsync("bench.async", payload); err != nil {
			b.Fatal(err)
		}
	}
	<-conn.JS.PublishAsyncComplete()
	asyncRate = float64(nAsync) / time.Since(start).Seconds()
	return syncRate, asyncRate
}

// BenchmarkSuitePipeline: whole jobs from POST /api/batch/start to
// `completed`, production tagger, documents are a tiny local PDF, the model
// is an HTTP fake OpenAI endpoint with fixed latency.
func BenchmarkSuitePipeline(b *testing.B) {
	b.Run("jetstream-raw", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s, a := rawPublishRates(b, 20000, 100000)
			b.ReportMetric(s, "sync_msgs/s")
			b.ReportMetric(a, "async_msgs/s")
		}
	})
	for _, latency := range []time.Duration{0, 200 * time.Millisecond} {
		for _, workers := range []int{1, 8, 32, 128} {
			name := fmt.Sprintf("llm=%dms/workers=%d", latency.Milliseconds(), workers)
			b.Run(name, func(b *testing.B) {
				n := 1000
				if latency > 0 {
					// About five seconds of ideal work per run.
					n = max(25, workers*25)
				}
				llm := newBenchLLM(b, latency)
				cfg := config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), Workers: workers, LLMBaseURL: llm.BaseURL(),
					LocalRoot: tinyRoot(b), MaxDocuments: 100000, DocTimeout: 5 * time.Minute, AckWait: 60 * time.Second,
					ShutdownGrace: time.Second, LogLevel: "error", MaxFetchBytes: 50 << 20}
				e := startEnvTB(b, cfg, newTagger(cfg, testLogger()))
				u := e.register(fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano()))
				docs := make([]any, n)
				for i := range docs {
					docs[i] = map[string]any{"file_path": "tiny.pdf", "title": fmt.Sprintf("Document %d", i)}
				}
				body := map[string]any{"documents": docs,
					"config": map[string]any{"model_name": "openai/gpt-4o-mini", "api_key": "sk-bench", "num_tags": 5, "cache": false}}
				b.ResetTimer()
				var elapsed time.Duration
				for i := 0; i < b.N; i++ {
					start := time.Now()
					job := e.mustCall("POST", "/api/batch/start", u.token, body, http.StatusOK)["job_id"].(string)
					final := e.waitStatus(u, job, 30*time.Minute, "completed", "failed", "cancelled")
					elapsed += time.Since(start)
					if final["status"] != "completed" || final["failed_count"].(float64) != 0 {
						b.Fatalf("job ended %v", final)
					}
				}
				rate := float64(n*b.N) / elapsed.Seconds()
				b.ReportMetric(rate, "docs/s")
				b.ReportMetric(float64(llm.Calls())/float64(n*b.N), "llm_calls/doc")
				if latency > 0 {
					ideal := float64(workers) / latency.Seconds()
					b.ReportMetric(rate/ideal, "of_ideal")
				}
			})
		}
	}
	b.Run("jetstream-raw-after", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s, a := rawPublishRates(b, 20000, 100000)
			b.ReportMetric(s, "sync_msgs/s")
			b.ReportMetric(a, "async_msgs/s")
		}
	})
}

// loadResult is one load-generator run.
type loadResult struct {
	requests, errors int
	rps              float64
	p50, p99         time.Duration
}

// loadGen sends GET url from `clients` concurrent keep-alive clients over
// loopback until maxRequests were sent or maxTime passed.
func loadGen(url, token string, clients, maxRequests int, maxTime time.Duration) loadResult {
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next, errs atomic.Int64
	lat := make([][]time.Duration, clients)
	deadline := time.Now().Add(maxTime)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			for next.Add(1) <= int64(maxRequests) && time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", url, nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs.Add(1)
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := loadResult{requests: len(all), errors: int(errs.Load()), rps: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return r
}

// BenchmarkSuiteStatusLoad: GET /api/batch/jobs/{id}/status (JWT check,
// ownership, read model) against GET /api/health, alternating, while a
// 50,000-document job is being processed by 8 workers (in-process fake
// tagger, 20 ms per document). STATUS_CLIENTS (default 16) concurrent
// clients, at most 20,000 requests or 8 s per round.
func BenchmarkSuiteStatusLoad(b *testing.B) {
	clients := 16
	if v, err := strconv.Atoi(os.Getenv("STATUS_CLIENTS")); err == nil && v > 0 {
		clients = v
	}
	const maxReq, maxTime = 20000, 8 * time.Second
	e, u := benchEnv(b, 8, &fakeTagger{delay: 20 * time.Millisecond})
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docsFor(50000),
		"config": map[string]any{"model_name": "builtin/keywords"}}, http.StatusOK)["job_id"].(string)
	e.waitStatus(u, job, time.Minute, "processing")
	statusURL := e.url + "/api/batch/jobs/" + job + "/status"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var health, status []loadResult
		for round := 0; round < 2; round++ {
			health = append(health, loadGen(e.url+"/api/health", "", clients, maxReq, maxTime))
			status = append(status, loadGen(statusURL, u.token, clients, maxReq, maxTime))
		}
		pub := loadGen(e.url+"/api/status", "", clients, maxReq, maxTime)
		b.StopTimer()
		mean := func(rs []loadResult) (rps float64, p99 time.Duration, errs int) {
			for _, r := range rs {
				rps += r.rps / float64(len(rs))
				p99 = max(p99, r.p99)
				errs += r.errors
			}
			return
		}
		hr, hp, he := mean(health)
		sr, sp, se := mean(status)
		if he+se+pub.errors > 0 {
			b.Errorf("errors: health %d, status %d, /api/status %d", he, se, pub.errors)
		}
		b.ReportMetric(hr, "health_req/s")
		b.ReportMetric(float64(hp.Microseconds())/1000, "health_p99_ms")
		b.ReportMetric(sr, "status_req/s")
		b.ReportMetric(float64(sp.Microseconds())/1000, "status_p99_ms")
		b.ReportMetric(sr/hr, "status/health")
		b.ReportMetric(pub.rps, "api_status_req/s")
		st := e.status(u, job)
		b.Logf("rounds health %+v status %+v /api/status %+v; job after the load: %v processed, status %v",
			health, status, pub, st["processed_count"], st["status"])
		if st["status"] != "processing" {
			b.Errorf("the job was not running during the whole measurement: %v", st["status"])
		}
		b.StartTimer()
	}
}

// serveProc is a `tagstream serve` child process (the test binary re-run
// through TestHelperProcess, as in crash_test.go).
type serveProc struct {
	cmd     *exec.Cmd
	url     string
	started time.Time
	logs    *bytes.Buffer
	mu      sync.Mutex
}

func spawnServe(b tb, dataDir string, env ...string) *serveProc {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "--", "serve")
	cmd.Env = append(os.Environ(), "TAGSTREAM_HELPER_PROCESS=1", "TAGSTREAM_ADDR="+addr, "TAGSTREAM_DATA_DIR="+dataDir,
		"TAGSTREAM_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	p := &serveProc{cmd: cmd, url: "http://" + addr, logs: &bytes.Buffer{}}
	stderr, _ := cmd.StderrPipe()
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

func (p *serveProc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// waitOK polls GET path every 5 ms until it answers 200 and returns the
// time since the process was started.
func (p *serveProc) waitOK(b tb, path string, timeout time.Duration) time.Duration {
	b.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(p.url + path)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.started)
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s never answered 200: %v\n%s", path, err, p.logText())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// vm reads a Vm* line of /proc/PID/status in MiB.
func (p *serveProc) vm(field string) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func (p *serveProc) stop(b tb, sig syscall.Signal) {
	b.Helper()
	_ = p.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		b.Errorf("serve did not stop on %v within 90 s", sig)
	}
}

// BenchmarkSuiteMemory100k: one start of 100,000 documents (tiny local PDF,
// builtin/keywords, 32 workers) in a separate `serve` process, run to
// completion; VmHWM after the start was accepted, at completion, and
// after a restart that replays the job's whole log.
func BenchmarkSuiteMemory100k(b *testing.B) {
	const n = 100000
	for i := 0; i < b.N; i++ {
		dataDir := b.TempDir()
		envVars := []string{"TAGSTREAM_MAX_DOCUMENTS=100000", "TAGSTREAM_LOCAL_ROOT=" + tinyRoot(b), "TAGSTREAM_WORKERS=32"}
		p := spawnServe(b, dataDir, envVars...)
		p.waitOK(b, "/api/health", time.Minute)
		e := &env{t: b, url: p.url}
		u := e.register("memory@example.com")
		docs := make([]any, n)
		for j := range docs {
			docs[j] = map[string]any{"file_path": "tiny.pdf", "title": fmt.Sprintf("Document %d", j)}
		}
		raw, _ := json.Marshal(map[string]any{"documents": docs, "config": map[string]any{"model_name": "builtin/keywords", "num_tags": 5}})
		idle := p.vm("VmHWM")
		start := time.Now()
		job := e.mustCall("POST", "/api/batch/start", u.token, raw, http.StatusOK)["job_id"].(string)
		accepted := time.Since(start)
		afterStart := p.vm("VmHWM")
		var final map[string]any
		for {
			final = e.status(u, job)
			if s := final["status"]; s == "completed" || s == "failed" || s == "cancelled" {
				break
			}
			if time.Since(start) > 30*time.Minute {
				b.Fatalf("job not done after 30 min: %v", final)
			}
			time.Sleep(500 * time.Millisecond)
		}
		took := time.Since(start)
		done := p.vm("VmHWM")
		rssDone := p.vm("VmRSS")
		if final["status"] != "completed" || final["processed_count"].(float64) != n {
			b.Fatalf("job ended %v", final)
		}
		p.stop(b, syscall.SIGTERM)

		q := spawnServe(b, dataDir, envVars...)
		ready := q.waitOK(b, "/api/ready", 5*time.Minute)
		restart := q.vm("VmHWM")
		q.stop(b, syscall.SIGTERM)

		b.ReportMetric(float64(len(raw))/(1<<20), "body_MiB")
		b.ReportMetric(accepted.Seconds(), "start_accept_s")
		b.ReportMetric(float64(n)/took.Seconds(), "docs/s")
		b.ReportMetric(idle, "hwm_idle_MiB")
		b.ReportMetric(afterStart, "hwm_after_start_MiB")
		b.ReportMetric(done, "hwm_done_MiB")
		b.ReportMetric(rssDone, "rss_done_MiB")
		b.ReportMetric(restart, "hwm_restart_MiB")
		b.ReportMetric(ready.Seconds(), "restart_ready_s")
	}
}

// fillEventLog writes about n events straight into the event stream of
// the data dir (10,000 jobs of 100 documents for a million): each job has
// its documents chunk, JobStarted, DocumentStarted and DocumentTagged (or
// DocumentFailed) per document, and JobCompleted. It returns the last job.
func fillEventLog(b tb, dataDir string, n int) (lastJob string, count int) {
	b.Helper()
	ctx := context.Background()
	cfg := config{DataDir: dataDir, Workers: 1, MaxDocuments: 10000, AckWait: time.Minute, ShutdownGrace: time.Second}
	a, err := openApp(ctx, cfg, roles{}, nil, testLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer a.close()
	js := a.conn.JS
	owner := events.User("usr_bench", "bench@example.com")
	w := events.Worker("bench-worker")
	pub := func(env events.Envelope) {
		raw, _ := json.Marshal(env)
		if _, err := js.PublishAsync(env.Subject, raw); err != nil {
			b.Fatal(err)
		}
		count++
	}
	t0 := time.Now().Add(-30 * 24 * time.Hour)
	for j := 0; count < n; j++ {
		job := fmt.Sprintf("batch-bench-%06d", j)
		lastJob = job
		mk := func(ev events.Event, actor events.Actor) events.Envelope {
			env, err := events.New(job, actor, ev)
			if err != nil {
				b.Fatal(err)
			}
			env.Time = t0.Add(time.Duration(count) * time.Millisecond)
			return env
		}
		docs := make([]events.Document, 100)
		for i := range docs {
			docs[i] = events.Document{Row: i, FilePath: fmt.Sprintf("https://example.org/%d/%d.pdf", j, i), SourceType: "url", Title: fmt.Sprintf("Doc %d", i)}
		}
		pub(mk(events.DocumentsSubmitted{InputID: "in-" + job, Documents: docs}, owner))
		pub(mk(events.JobStarted{InputID: "in-" + job, Chunks: 1, Total: 100, Config: events.JobConfig{Model: "openai/gpt-4o-mini", NumPages: 3, NumTags: 8}}, owner))
		failed := 0
		for i := 0; i < 100; i++ {
			pub(mk(events.DocumentStarted{Row: i, Attempt: 1}, w))
			md := events.TagMetadata{Model: "openai/gpt-4o-mini", PagesRead: 3, TotalTokens: 900 + i, DurationMS: int64(800 + i*7)}
			if i%17 == 0 {
				failed++
				pub(mk(events.DocumentFailed{Row: i, Attempt: 1, Error: "HTTP 404", Code: "fetch_not_found", Metadata: md}, w))
			} else {
				pub(mk(events.DocumentTagged{Row: i, Attempt: 1, Tags: []string{"water quality", "jal jeevan mission", "circular"}, Metadata: md}, w))
			}
		}
		pub(mk(events.JobCompleted{Processed: 100 - failed, Failed: failed}, events.System))
		if j%10 == 0 { // 2,000 in flight at most: a loaded machine stalls above 4,000
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
	return lastJob, count
}

// BenchmarkSuiteStartup: a data dir whose log holds STARTUP_EVENTS
// (default 1,000,000) events; the time from starting `serve` to /api/health
// answering 200 and to /api/ready answering 200 (read models caught up
// with the log), for the first start, a restart after SIGTERM and a
// restart after SIGKILL.
func BenchmarkSuiteStartup(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("STARTUP_EVENTS")); err == nil && v > 0 {
		n = v
	}
	dataDir := b.TempDir()
	fillStart := time.Now()
	lastJob, count := fillEventLog(b, dataDir, n)
	b.Logf("filled %d events in %s", count, time.Since(fillStart).Round(time.Millisecond))
	// Registering an address grants nothing: the auditor is invited by the
	// operator's bootstrap, next to the data, before the first start.
	auditorInv := bootstrapInvitation(b, dataDir, "auditor@example.com", "auditor")
	var envVars []string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		type phase struct {
			name      string
			health    time.Duration
			ready     time.Duration
			hwm       float64
			stoppedBy syscall.Signal
		}
		phases := []phase{{name: "first", stoppedBy: syscall.SIGTERM}, {name: "after_sigterm", stoppedBy: syscall.SIGKILL}, {name: "after_sigkill", stoppedBy: syscall.SIGTERM}}
		for k := range phases {
			ph := &phases[k]
			p := spawnServe(b, dataDir, envVars...)
			ph.health = p.waitOK(b, "/api/health", 5*time.Minute)
			ph.ready = p.waitOK(b, "/api/ready", 5*time.Minute)
			ph.hwm = p.vm("VmHWM")
			if k == 0 {
				// The read models really hold the whole log.
				e := &env{t: b, url: p.url}
				e.registerWith("auditor@example.com", auditorInv, 201)
				u := e.loginAs("auditor@example.com")
				if st := e.status(u, lastJob); st["status"] != "completed" {
					b.Fatalf("last job of the log after start: %v", st)
				}
			}
			p.stop(b, ph.stoppedBy)
		}
		for _, ph := range phases {
			b.ReportMetric(ph.health.Seconds(), ph.name+"_health_s")
			b.ReportMetric(ph.ready.Seconds(), ph.name+"_ready_s")
			b.ReportMetric(ph.hwm, ph.name+"_hwm_MiB")
		}
	}
	b.ReportMetric(float64(count), "events")
}
