package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
	"github.com/tagstream/tagstream/internal/testenv"
)

// hostileMaxHeap bounds the whole process's heap in use (API, JetStream,
// four workers extracting hostile documents at once, and this test's
// copies of the documents) during the hostile job. Each document alone
// peaks under 300 MiB (BENCHMARKS.md); before the budgets one of them ran
// serve out of memory.
const hostileMaxHeap = 1536 << 20

// TestHostileDocumentsThroughAJob (issue 10 item 7): every generated
// hostile document goes through the real fetch, pdftext and pipeline in
// one job next to a good PDF. Each one fails alone with its own clear code
// (or is read, for the ones pdftext survives), the good document is
// tagged, the heap stays bounded, and the server answers and runs another
// job afterwards.
func TestHostileDocumentsThroughAJob(t *testing.T) {
	good, err := os.ReadFile(testenv.CorpusFile(t, "circular-water.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	hostile := pdfgen.Hostile()
	files := map[string][]byte{"/good.pdf": good}
	for i, h := range hostile {
		files[fmt.Sprintf("/hostile-%d.pdf", i)] = h.Data() // generated before the heap is sampled
	}
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		served.Add(1)
		w.Header().Set("Content-Type", "application/pdf")
		w.Write(data)
	}))
	t.Cleanup(srv.Close)

	cfg := testConfig(t)
	cfg.AllowPrivate = true // the documents are on loopback
	// Far above what any document needs: the test is about budgets, and a
	// loaded machine must not turn a budget error into a timeout.
	cfg.DocTimeout = 5 * time.Minute
	e := startEnv(t, cfg, newTagger(cfg, testLogger()))
	u := e.register("alice@example.com")

	docs := []any{map[string]any{"file_path": srv.URL + "/good.pdf", "title": "good"}}
	for i, h := range hostile {
		docs = append(docs, map[string]any{"file_path": fmt.Sprintf("%s/hostile-%d.pdf", srv.URL, i), "title": h.Name})
	}
	// ocr off: OCR of the thin text layers would need Tesseract and is
	// not what this test is about; ten pages so the document budgets of
	// the three-page files are reached.
	jobCfg := map[string]any{"model_name": "builtin/keywords", "num_pages": 10, "ocr": "off"}

	runtime.GC()
	stop, peakc := make(chan struct{}), make(chan uint64)
	go sampleHeapInuse(stop, peakc)
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs, "config": jobCfg}, 200)["job_id"].(string)
	st := e.waitStatus(u, job, 10*time.Minute, "completed", "failed")
	close(stop)
	peak := <-peakc
	t.Logf("peak HeapInuse during the hostile job: %d MiB (bound %d MiB)", peak>>20, hostileMaxHeap>>20)
	if peak > hostileMaxHeap {
		t.Errorf("peak HeapInuse %d MiB, bound %d MiB", peak>>20, hostileMaxHeap>>20)
	}
	if st["status"] != "completed" {
		t.Fatalf("the job did not complete: %v", st)
	}

	rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, 200)["results"].([]any)
	byTitle := map[string]map[string]any{}
	for _, r := range rows {
		byTitle[r.(map[string]any)["title"].(string)] = r.(map[string]any)
	}
	if len(byTitle) != len(docs) {
		t.Fatalf("%d results for %d documents", len(byTitle), len(docs))
	}
	if r := byTitle["good"]; r["status"] != "success" || len(r["tags"].([]any)) == 0 {
		t.Errorf("the good document next to the hostile ones: %v", r)
	}
	for _, h := range hostile {
		r := byTitle[h.Name]
		code, _ := r["error_code"].(string)
		msg, _ := r["error"].(string)
		md, _ := r["metadata"].(map[string]any)
		t.Logf("%-32s %s %s %s", h.Name, r["status"], code, msg)
		switch h.Kind {
		case pdfgen.KindBudget:
			if r["status"] != "failed" || code != "extract_budget" || !strings.Contains(msg, h.Budget) {
				t.Errorf("%s: status %v code %q error %q, want extract_budget naming %q", h.Name, r["status"], code, msg, h.Budget)
			}
		case pdfgen.KindCorrupt:
			if r["status"] != "failed" || code != "extract" || !strings.Contains(msg, "damaged") {
				t.Errorf("%s: status %v code %q error %q, want extract (damaged)", h.Name, r["status"], code, msg)
			}
		default:
			// pdftext reads these; their few words may be too little
			// text to tag, which is the document's ordinary failure.
			read := md != nil && md["text_length"] != nil && md["text_length"].(float64) >= float64(len(h.Text))
			ok := r["status"] == "success" || (r["status"] == "failed" && (code == "insufficient_text" || code == "no_tags"))
			if !ok || !read {
				t.Errorf("%s: status %v code %q error %q metadata %v, want its text read", h.Name, r["status"], code, msg, md)
			}
		}
	}
	if n := served.Load(); n < int64(len(docs)) {
		t.Errorf("%d documents fetched of %d", n, len(docs))
	}

	// The server is alive and does ordinary work afterwards.
	if code, out := e.call("GET", "/api/health", "", nil); code != 200 {
		t.Fatalf("/api/health after the hostile job: %d %v", code, out)
	}
	next := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{
		"documents": []any{map[string]any{"file_path": srv.URL + "/good.pdf", "title": "good again"}},
		"config":    jobCfg,
	}, 200)["job_id"].(string)
	e.waitStatus(u, next, 2*time.Minute, "completed")
	r := e.mustCall("GET", "/api/batch/jobs/"+next+"/results", u.token, nil, 200)["results"].([]any)[0].(map[string]any)
	if r["status"] != "success" || len(r["tags"].([]any)) == 0 {
		t.Fatalf("a normal job after the hostile one: %v", r)
	}
}

// sampleHeapInuse reports the largest heap in use (HeapInuse: objects
// plus unused space in in-use spans) seen until stop closes. Sampling
// misses short spikes, so it is a lower bound of the true peak; the
// runtime/metrics read does not stop the world as ReadMemStats does.
func sampleHeapInuse(stop <-chan struct{}, out chan<- uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var peak uint64
	for {
		metrics.Read(s)
		peak = max(peak, s[0].Value.Uint64()+s[1].Value.Uint64())
		select {
		case <-stop:
			out <- peak
			return
		case <-tick.C:
		}
	}
}

// TestExtractCommandHostile: `tagstream extract` on hostile files exits
// with an error naming the budget instead of running out of memory or
// time.
func TestExtractCommandHostile(t *testing.T) {
	want := map[string]bool{"nested-flate-bomb-512MiB": true, "endless-content-20M-operators": true}
	dir := t.TempDir()
	tried := 0
	for _, h := range pdfgen.Hostile() {
		if !want[h.Name] {
			continue
		}
		tried++
		path := filepath.Join(dir, h.Name+".pdf")
		if err := os.WriteFile(path, h.Data(), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		root := newRootCmd(&out, &errOut)
		root.SetArgs([]string{"extract", "--pages", "10", path})
		err := root.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), "extraction budget") || !strings.Contains(err.Error(), h.Budget) {
			t.Errorf("%s: extract returned %v, want an error naming budget %q", h.Name, err, h.Budget)
		} else if code := exitCodeOf(err); code == 0 {
			t.Errorf("%s: exit code 0 for %v", h.Name, err)
		}
		if out.Len() > 0 {
			t.Errorf("%s: extract printed %d bytes of text with its error", h.Name, out.Len())
		}
	}
	if tried != len(want) {
		t.Fatalf("found %d of the %d hostile documents by name", tried, len(want))
	}
}
