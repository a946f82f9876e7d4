package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

// TestNormalCancelLogsNoWarnings: cancelling a job while documents are
// being tagged by the real pipeline is a user's decision, not a fault:
// nothing is logged at WARN or above, before or after shutdown.
func TestNormalCancelLogsNoWarnings(t *testing.T) {
	docsSrv := corpusServer(t)
	llm := llmfake.New(t, llmfake.Options{})
	gate := make(chan struct{})
	var waiting atomic.Int64
	gated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waiting.Add(1)
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		llm.ServeHTTP(w, r)
	}))
	t.Cleanup(gated.Close)
	cfg := testConfig(t)
	cfg.AllowPrivate, cfg.LLMBaseURL, cfg.Workers, cfg.LogLevel = true, gated.URL+"/v1", 2, "debug"
	e, logs := startEnvLog(t, cfg, newTagger(cfg, testLogger()))
	u := e.register("alice@example.com")
	docs := make([]any, 10)
	for i := range docs {
		docs[i] = map[string]any{"file_path": docsSrv.URL + "/circular-water.pdf"}
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		// cache false: ten rows of one URL would otherwise be twins, one
		// task, and this test wants two documents at the model at once.
		"config": map[string]any{"api_key": "sk-test", "model_name": "openai/gpt-4o-mini", "cache": false}}, 200)["job_id"].(string)
	waitFor(t, "2 documents at the model", func() bool { return waiting.Load() >= 2 })
	e.mustCall("POST", "/api/batch/jobs/"+job+"/cancel", u.token, map[string]any{"reason": "wrong batch"}, 200)
	// The cancel drops the job's task consumer and tasks; only then do the
	// two documents at the model finish, so their acks find nothing.
	waitFor(t, "the job's tasks leave the task stream", func() bool {
		n, err := e.app.taskBacklog(context.Background())
		return err == nil && n == 0
	})
	close(gate)
	waitFor(t, "the in-flight documents settle", func() bool {
		st := e.status(u, job)
		n := st["processed_count"].(float64) + st["failed_count"].(float64) + st["cancelled_count"].(float64)
		return st["status"] == "cancelled" && n == 10 && st["cancelled_count"].(float64) <= 8
	})
	e.shutdown()
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Level string }
		if json.Unmarshal([]byte(line), &rec) == nil && (rec.Level == "WARN" || rec.Level == "ERROR") {
			bad = append(bad, line)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("a normal cancel logged %d warnings:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}
