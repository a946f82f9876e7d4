package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
)

// BenchmarkCacheRerun: a 1,000-document job of distinct PDFs (same text,
// different bytes) against a 200 ms model, then the same job again: the
// re-run must make no model call. Reports both durations and their ratio,
// the re-run's CPU time per document, and for reference the rate of the
// same files with no model and no cache. TAGSTREAM_BENCH_TRACE=1 logs
// where each run's time went; TAGSTREAM_BENCH_CPUPROFILE=file profiles
// the re-run.
func BenchmarkCacheRerun(b *testing.B) {
	// TAGSTREAM_WORKERS' default: the first run is model-bound at 40
	// docs/s, the re-run bound by the CPU (events, read models).
	const workers = 8
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("TAGSTREAM_BENCH_DOCS")); err == nil && v > 0 {
		n = v // a shorter run while developing
	}
	root := b.TempDir()
	docs := make([]any, n)
	for i := range docs {
		// Bytes after %%EOF make each file distinct without changing its text.
		name := fmt.Sprintf("doc-%04d.pdf", i)
		if err := os.WriteFile(filepath.Join(root, name), append(tinyPDF(), fmt.Sprintf("%% copy %d\n", i)...), 0o644); err != nil {
			b.Fatal(err)
		}
		docs[i] = map[string]any{"file_path": name, "title": fmt.Sprintf("Document %d", i)}
	}
	llm := newBenchLLM(b, 200*time.Millisecond)
	cfg := config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), Workers: workers, LLMBaseURL: llm.BaseURL(),
		LocalRoot: root, MaxDocuments: 100000, DocTimeout: 5 * time.Minute, AckWait: 60 * time.Second,
		ShutdownGrace: time.Second, LogLevel: "error", MaxFetchBytes: 50 << 20}
	e := startEnvTB(b, cfg, newTagger(cfg, testLogger()))
	body := map[string]any{"documents": docs,
		// ocr off: the tiny PDF's short text would otherwise be OCR'd, and
		// this measures the model's share, not tesseract's.
		"config": map[string]any{"model_name": "openai/gpt-4o-mini", "api_key": "sk-bench", "num_tags": 5, "ocr": "off"}}
	run := func(u user, body map[string]any) (time.Duration, map[string]any) {
		start := time.Now()
		job := e.mustCall("POST", "/api/batch/start", u.token, body, http.StatusOK)["job_id"].(string)
		final := e.waitStatus(u, job, 30*time.Minute, "completed", "failed", "cancelled")
		took := time.Since(start)
		if final["status"] != "completed" || final["processed_count"].(float64) != float64(n) {
			b.Fatalf("job ended %v", final)
		}
		if os.Getenv("TAGSTREAM_BENCH_TRACE") != "" {
			b.Log(phases(e.history(job), start.Add(took)))
		}
		return took, final
	}
	// The reference, in the same process and minute: the same files with
	// the offline keyword tagger and no cache, i.e. every document
	// extracted and started and tagged, with no model to wait for.
	ref := map[string]any{"documents": docs, "config": map[string]any{"model_name": "builtin/keywords", "num_tags": 5, "ocr": "off", "cache": false}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := e.register(fmt.Sprintf("cache-%d@example.com", time.Now().UnixNano())) // a fresh owner: a cold cache
		first, _ := run(u, body)
		before := llm.Calls()
		stop, cpu0 := cpuProfile(b), cpuTime()
		second, st := run(u, body)
		cpu := cpuTime() - cpu0
		stop()
		calls := llm.Calls() - before
		usage := st["usage"].(map[string]any)
		if calls != 0 || usage["cached"].(float64) != float64(n) {
			b.Fatalf("re-run: %d model calls, usage %v", calls, usage)
		}
		keywords, _ := run(u, ref)
		b.ReportMetric(first.Seconds(), "first_s")
		b.ReportMetric(second.Seconds(), "rerun_s")
		b.ReportMetric(first.Seconds()/second.Seconds(), "speedup")
		b.ReportMetric(float64(calls), "rerun_calls")
		b.ReportMetric(float64(n)/second.Seconds(), "rerun_docs/s")
		b.ReportMetric(float64(n)/keywords.Seconds(), "nomodel_docs/s")
		// CPU time of the whole process (API, workers, NATS, read models)
		// per re-run document: what the re-run costs on a loaded machine.
		b.ReportMetric(cpu.Seconds()*1e3/float64(n), "rerun_cpu_ms/doc")
	}
}

// cpuProfile writes a CPU profile of the re-run to the file named by
// TAGSTREAM_BENCH_CPUPROFILE, if set; the returned func stops it.
func cpuProfile(b *testing.B) func() {
	name := os.Getenv("TAGSTREAM_BENCH_CPUPROFILE")
	if name == "" {
		return func() {}
	}
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// phases says where a run's time went (TAGSTREAM_BENCH_TRACE): from the
// JobStarted to the first document event, across the document events,
// from the last to the JobCompleted, and from there until the status
// poll saw it (the read model's lag and the poll).
func phases(h []events.Envelope, seen time.Time) string {
	var firstDoc, lastDoc, done time.Time
	for _, env := range h {
		switch env.Type {
		case events.TypeDocumentStarted, events.TypeDocumentTagged, events.TypeDocumentFailed, events.TypeDocumentReleased:
			if firstDoc.IsZero() {
				firstDoc = env.Time
			}
			lastDoc = env.Time
		case events.TypeJobCompleted:
			done = env.Time
		}
	}
	return fmt.Sprintf("%d events; start->first document %v, documents %v, last->completed %v, completed->seen %v",
		len(h), firstDoc.Sub(h[0].Time), lastDoc.Sub(firstDoc), done.Sub(lastDoc), seen.Sub(done))
}
