package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/pipeline"
)

func TestStartCrashedBeforeCommitLeavesNoVisibleJob(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("alice@example.com")
	// A start that died after storing its documents but before JobStarted
	// (at the job id the server derives from the owner and "half-job").
	half := services.OwnerScopedJobID(u.id, "half-job")
	env, err := events.New(half, events.User(u.id, u.email), events.DocumentsSubmitted{
		InputID: "deadbeef", Chunk: 0, Documents: []events.Document{{Row: 0, FilePath: "x.pdf", SourceType: "local"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.store.Append(context.Background(), env, nil); err != nil {
		t.Fatal(err)
	}
	e.mustCall("GET", "/api/batch/jobs/"+half+"/status", u.token, nil, 404)
	if n := len(e.mustCall("GET", "/api/batch/active", u.token, nil, 200)["jobs"].([]any)); n != 0 {
		t.Fatalf("a half-created job is listed as active")
	}
	// The id is still free; the real start wins and sees only its own rows.
	out := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"job_id": "half-job",
		"documents": []any{map[string]any{"file_path": "a.pdf"}, map[string]any{"file_path": "b.pdf"}},
		"config":    map[string]any{"model_name": "builtin/keywords"}}, 200)
	if out["total_documents"].(float64) != 2 || out["job_id"] != half {
		t.Fatalf("start after a crashed start: %v", out)
	}
	e.waitStatus(u, half, 20*time.Second, "completed")
	rows := e.mustCall("GET", "/api/batch/jobs/"+half+"/results", u.token, nil, 200)["results"].([]any)
	if len(rows) != 2 || rows[0].(map[string]any)["file_path"] != "a.pdf" {
		t.Fatalf("rows: %v", rows)
	}
}

func TestTenThousandDocumentStartInOneRequest(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = 32
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("bulk@example.com")
	docs := make([]any, 10000)
	for i := range docs {
		docs[i] = map[string]any{"file_path": fmt.Sprintf("https://docs.example.com/archive/%05d.pdf", i),
			"title": fmt.Sprintf("Archive document %d", i), "Department": "Records", "Year": 1990 + i%30}
	}
	start := time.Now()
	out := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"model_name": "builtin/keywords"}}, 200)
	t.Logf("10,000-document start accepted in %s", time.Since(start).Round(time.Millisecond))
	job := out["job_id"].(string)
	if out["total_documents"].(float64) != 10000 {
		t.Fatalf("start: %v", out)
	}
	chunks := 0
	for _, ev := range e.history(job) {
		if ev.Type == events.TypeDocumentsSubmitted {
			chunks++
		}
	}
	if chunks < 2 {
		t.Fatalf("10,000 documents stored in %d chunk(s); they cannot fit one message", chunks)
	}
	st := e.waitStatus(u, job, 120*time.Second, "completed")
	if st["processed_count"].(float64) != 10000 {
		t.Fatalf("final: %v", st)
	}
	page := e.mustCall("GET", "/api/batch/jobs/"+job+"/results?cursor=9990&limit=100", u.token, nil, 200)
	rows := page["results"].([]any)
	if len(rows) != 10 || page["next_cursor"] != nil || rows[9].(map[string]any)["row_id"].(float64) != 9999 {
		t.Fatalf("last page: %d rows, next %v", len(rows), page["next_cursor"])
	}
}

// TestExternalNATSWithSeparateWorker runs the API without workers and a
// worker-only process, both against one NATS server over TCP.
func TestExternalNATSWithSeparateWorker(t *testing.T) {
	url := startExternalNATS(t)

	apiCfg := testConfig(t)
	apiCfg.NatsURL = url
	// One master key for the cluster: the worker opens the tasks the API
	// sealed under the job's data key (README, "State kept outside the log").
	apiCfg.SecretsKey = newSecretsKey(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api, err := openApp(ctx, apiCfg, roles{api: true}, nil, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	apiLn, _ := net.Listen("tcp", "127.0.0.1:0")
	apiDone := make(chan error, 1)
	go func() { apiDone <- api.run(ctx, apiLn) }()

	tagger := &fakeTagger{}
	workerCfg := testConfig(t)
	workerCfg.NatsURL, workerCfg.SecretsKey = url, apiCfg.SecretsKey
	worker, err := openApp(ctx, workerCfg, roles{workers: true}, tagger, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	workerDone := make(chan error, 1)
	metricsLn, _ := net.Listen("tcp", "127.0.0.1:0") // TAGSTREAM_METRICS_ADDR
	go func() { workerDone <- worker.run(ctx, metricsLn) }()

	e := &env{t: t, url: "http://" + apiLn.Addr().String(), app: api}
	u := e.register("alice@example.com")
	job := e.startJob(u, 20, nil)
	e.waitStatus(u, job, 30*time.Second, "completed")
	if n := tagger.callCount(); n != 20 {
		t.Fatalf("the worker process tagged %d documents, want 20", n)
	}
	// The worker-only process exposes its own metrics and health.
	w := &env{t: t, url: "http://" + metricsLn.Addr().String()}
	w.mustCall("GET", "/api/health", "", nil, 200)
	resp, err := http.Get(w.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "tagstream_documents_processed_total 20") {
		t.Fatalf("worker metrics lack the 20 processed documents:\n%.2000s", body)
	}
	cancel()
	<-apiDone
	<-workerDone
}

func TestProjectionsRebuildCommandMatchesLiveDigests(t *testing.T) {
	cfg := testConfig(t)
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		if in.Document.Row == 1 {
			return fmt.Errorf("boom")
		}
		return nil
	}}
	e := startEnv(t, cfg, tagger)
	u := e.register("alice@example.com")
	job := e.startJob(u, 4, nil)
	e.waitStatus(u, job, 20*time.Second, "completed")
	if err := e.app.fresh.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	live, err := modelDigests(context.Background(), e.app.read)
	if err != nil {
		t.Fatal(err)
	}
	e.shutdown() // the command runs next to the data, with the server stopped

	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs([]string{"projections", "rebuild", "--data-dir", cfg.DataDir})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("rebuild: %v (%s)", err, errOut.String())
	}
	for _, line := range live {
		if !strings.Contains(out.String(), line) {
			t.Fatalf("rebuild output lacks the live model's digest %q:\n%s", line, out.String())
		}
	}
	if !strings.Contains(out.String(), "replayed") {
		t.Fatalf("no progress line: %s", out.String())
	}
	// A model named twice is rebuilt once.
	out.Reset()
	errOut.Reset()
	root = newRootCmd(&out, &errOut)
	root.SetArgs([]string{"projections", "rebuild", "--data-dir", cfg.DataDir, "job-status", "job-status"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("rebuild job-status job-status: %v (%s)", err, errOut.String())
	}
	if n := strings.Count(errOut.String(), "rebuilt job-status"); n != 1 {
		t.Fatalf("job-status named twice was rebuilt %d times:\n%s", n, errOut.String())
	}
	// Only the rebuilt model's digest: the others were not rebuilt.
	if !strings.Contains(out.String(), live[0]) || strings.Contains(out.String(), projections.DocumentSearchName) ||
		strings.Contains(out.String(), projections.DocumentResultsName) {
		t.Fatalf("rebuild job-status printed:\n%s\nwant the job-status digest %q alone", out.String(), live[0])
	}
}

func TestSecondProcessCannotOpenTheSameDataDir(t *testing.T) {
	cfg := testConfig(t)
	e := startEnv(t, cfg, &fakeTagger{})
	_, err := openApp(context.Background(), cfg, roles{api: true, workers: true}, &fakeTagger{}, testLogger())
	if err == nil || !strings.Contains(err.Error(), "in use by another tagstream process") {
		t.Fatalf("second open of %s: %v", cfg.DataDir, err)
	}
	e.shutdown()
	a, err := openApp(context.Background(), cfg, roles{}, nil, testLogger())
	if err != nil {
		t.Fatalf("open after the first process stopped: %v", err)
	}
	a.close()
}

// A worker started without the cluster's master key could open no task;
// it stops at start and says what to set.
func TestWorkerWithAnotherMasterKeyStopsAtStart(t *testing.T) {
	url := startExternalNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	apiCfg := testConfig(t)
	apiCfg.NatsURL, apiCfg.SecretsKey = url, newSecretsKey(t)
	api, err := openApp(ctx, apiCfg, roles{api: true}, nil, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer api.close()
	workerCfg := testConfig(t)
	workerCfg.NatsURL = url // its own DATA_DIR/secrets.key: another key
	if _, err := openApp(ctx, workerCfg, roles{workers: true}, &fakeTagger{}, testLogger()); err == nil ||
		!strings.Contains(err.Error(), "TAGSTREAM_SECRETS_KEY") {
		t.Fatalf("worker with another master key: %v, want a refusal naming TAGSTREAM_SECRETS_KEY", err)
	}
}
