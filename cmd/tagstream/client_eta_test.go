package main

import (
	"strings"
	"testing"
	"time"
)

// `batch status` prints an ETA for a job at work: "-" until the server has
// seen two documents finish, then the time left and the rate; none once
// the job has ended.
func TestBatchStatusPrintsETA(t *testing.T) {
	tagger := &fakeTagger{}
	gate := make(chan struct{})
	tagger.setGate(gate)
	e := startEnv(t, testConfig(t), tagger)
	u := e.register("eta@example.com")
	job := e.startJob(u, 5, nil)
	e.waitStatus(u, job, 20*time.Second, "processing")

	clientEnv(t)
	login(t, e.url, u.email)
	if out := ok(t, "batch", "status", job).stdout; !strings.Contains(out, "ETA:") || !strings.Contains(out, "- (no rate yet)") {
		t.Fatalf("before any document finished:\n%s", out)
	}
	for i := 1; i <= 2; i++ {
		gate <- struct{}{}
		waitCount(t, e, u, job, i)
	}
	out := ok(t, "batch", "status", job).stdout
	if !strings.Contains(out, "ETA:") || !strings.Contains(out, "documents/min over the last 5 min") {
		t.Fatalf("after two documents finished:\n%s", out)
	}
	close(gate)
	e.waitStatus(u, job, 20*time.Second, "completed")
	if out := ok(t, "batch", "status", job).stdout; strings.Contains(out, "ETA") {
		t.Fatalf("a finished job has an ETA:\n%s", out)
	}
}

// waitCount waits until the job's status counts n tagged documents.
func waitCount(t *testing.T, e *env, u user, job string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.status(u, job)["processed_count"].(float64) < float64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%d documents not tagged in time", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
