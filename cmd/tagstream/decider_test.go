package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/services/pipeline"
)

// Status and commands agree: a job being tagged is "processing" to both.
// A cancelled job whose failures alone are retried ends "cancelled" in
// status, history and analytics, not as a plain success.
func TestCancelledJobRetriedWithoutItsCancelledDocumentsStaysCancelled(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = 2
	tagger := &fakeTagger{gate: make(chan struct{}), fail: func(in pipeline.TagInput) error {
		if in.Attempt == 1 {
			return &pipeline.Failure{Code: "fetch_not_found", Reason: "no such file"}
		}
		return nil
	}}
	e := startEnv(t, cfg, tagger)
	u := e.register("alice@example.com")
	job := e.startJob(u, 6, nil)
	waitFor(t, "2 documents in flight", func() bool { return tagger.running.Load() == 2 })
	waitFor(t, "status processing", func() bool { return e.status(u, job)["status"] == "processing" })
	refused := e.mustCall("POST", "/api/batch/jobs/"+job+"/resume", u.token, nil, http.StatusConflict)
	if !strings.Contains(refused["detail"].(string), "processing") {
		t.Fatalf("resume refused with %v; status says processing", refused)
	}
	e.mustCall("POST", "/api/batch/jobs/"+job+"/pause", u.token, nil, http.StatusOK)
	e.mustCall("POST", "/api/batch/jobs/"+job+"/resume", u.token, nil, http.StatusOK)

	tagger.gate <- struct{}{}
	tagger.gate <- struct{}{}
	waitFor(t, "2 failed, 2 more in flight", func() bool {
		return e.status(u, job)["failed_count"].(float64) == 2 && tagger.running.Load() == 2
	})
	e.mustCall("POST", "/api/batch/jobs/"+job+"/cancel", u.token, nil, http.StatusOK)
	close(tagger.gate)
	tagger.setGate(nil)
	waitFor(t, "in-flight documents recorded", func() bool {
		st := e.status(u, job)
		return tagger.running.Load() == 0 && st["failed_count"].(float64) == 4
	})
	e.mustCall("POST", "/api/batch/jobs/"+job+"/retry", u.token, map[string]any{"reason": "the failed ones only"}, http.StatusOK)
	st := e.waitStatus(u, job, 20*time.Second, "completed", "cancelled", "failed")
	if st["status"] != "cancelled" || st["processed_count"].(float64) != 4 || st["cancelled_count"].(float64) != 2 || st["finished_at"] == nil {
		t.Fatalf("after the retry: %v", st)
	}
	for _, j := range e.mustCall("GET", "/api/batch/jobs?status=completed", u.token, nil, http.StatusOK)["jobs"].([]any) {
		if j.(map[string]any)["job_id"] == job {
			t.Fatal("history lists the job as completed")
		}
	}
	by := e.mustCall("GET", "/api/analytics/summary", u.token, nil, http.StatusOK)["jobs_by_status"].(map[string]any)
	if by["cancelled"].(float64) != 1 || by["completed"] != nil && by["completed"].(float64) != 0 {
		t.Fatalf("analytics jobs by status: %v", by)
	}
}
