package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkCacheRerun: a 1,000-document job of distinct PDFs (same text,
// different bytes) against a 200 ms model, then the same job again: the
// re-run must make no model call. Reports both durations and their ratio.
func BenchmarkCacheRerun(b *testing.B) {
	// TAGSTREAM_WORKERS' default: the first run is model-bound at 40
	// docs/s, the re-run bound by the event pipeline.
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
	cfg := config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), Workers: workers, LLMBaseURL: llm.baseURL(),
		LocalRoot: root, MaxDocuments: 100000, DocTimeout: 5 * time.Minute, AckWait: 60 * time.Second,
		ShutdownGrace: time.Second, LogLevel: "error", MaxFetchBytes: 50 << 20}
	e := startEnvTB(b, cfg, newTagger(cfg, testLogger()))
	body := map[string]any{"documents": docs,
		// ocr off: the tiny PDF's short text would otherwise be OCR'd, and
		// this measures the model's share, not tesseract's.
		"config": map[string]any{"model_name": "openai/gpt-4o-mini", "api_key": "sk-bench", "num_tags": 5, "ocr": "off"}}
	run := func(u user) (time.Duration, map[string]any) {
		start := time.Now()
		job := e.mustCall("POST", "/api/batch/start", u.token, body, http.StatusOK)["job_id"].(string)
		final := e.waitStatus(u, job, 30*time.Minute, "completed", "failed", "cancelled")
		if final["status"] != "completed" || final["processed_count"].(float64) != float64(n) {
			b.Fatalf("job ended %v", final)
		}
		took := time.Since(start)
		if os.Getenv("TAGSTREAM_BENCH_TRACE") != "" {
			h := e.history(job)
			var firstDoc, lastDoc, done time.Time
			for _, env := range h {
				if strings.HasPrefix(env.Type, "Document") && env.Type != "DocumentsSubmitted" {
					if firstDoc.IsZero() {
						firstDoc = env.Time
					}
					lastDoc = env.Time
				}
				if env.Type == "JobCompleted" {
					done = env.Time
				}
			}
			b.Logf("events %d; job start->first doc %v, docs %v, last doc->completed %v, completed->seen %v",
				len(h), firstDoc.Sub(h[0].Time), lastDoc.Sub(firstDoc), done.Sub(lastDoc), start.Add(took).Sub(done))
		}
		return took, final
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := e.register(fmt.Sprintf("cache-%d@example.com", time.Now().UnixNano())) // a fresh owner: a cold cache
		first, _ := run(u)
		before := llm.calls.Load()
		if f := os.Getenv("TAGSTREAM_BENCH_CPUPROFILE"); f != "" {
			out, _ := os.Create(f)
			pprof.StartCPUProfile(out)
		}
		second, st := run(u)
		pprof.StopCPUProfile()
		calls := llm.calls.Load() - before
		usage := st["usage"].(map[string]any)
		if calls != 0 || usage["cached"].(float64) != float64(n) {
			b.Fatalf("re-run: %d model calls, usage %v", calls, usage)
		}
		b.ReportMetric(first.Seconds(), "first_s")
		b.ReportMetric(second.Seconds(), "rerun_s")
		b.ReportMetric(first.Seconds()/second.Seconds(), "speedup")
		b.ReportMetric(float64(calls), "rerun_calls")
	}
}
