package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/pipeline"
)

func TestOwnershipIsolation(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{gate: make(chan struct{})})
	alice, bob := e.register("alice@example.com"), e.register("bob@example.com")
	auditor, admin := e.register("auditor@example.com"), e.register("admin@example.com")
	job := e.startJob(alice, 3, nil)

	for _, path := range []string{"/status", "/results", "/events"} {
		e.mustCall("GET", "/api/batch/jobs/"+job+path, bob.token, nil, http.StatusNotFound)
		e.mustCall("GET", "/api/batch/jobs/"+job+path, auditor.token, nil, http.StatusOK)
		e.mustCall("GET", "/api/batch/jobs/"+job+path, admin.token, nil, http.StatusOK)
	}
	for _, action := range []string{"pause", "resume", "cancel"} {
		e.mustCall("POST", "/api/batch/jobs/"+job+"/"+action, bob.token, nil, http.StatusNotFound)
	}
	e.mustCall("POST", "/api/batch/jobs/"+job+"/pause", auditor.token, nil, http.StatusForbidden)
	if n := len(e.mustCall("GET", "/api/batch/active", bob.token, nil, 200)["jobs"].([]any)); n != 0 {
		t.Errorf("bob sees %d active jobs of alice", n)
	}
	if n := len(e.mustCall("GET", "/api/batch/active", alice.token, nil, 200)["jobs"].([]any)); n != 1 {
		t.Errorf("alice sees %d active jobs, want 1", n)
	}
	// The admin controls every job, and the trail records who did it.
	e.mustCall("POST", "/api/batch/jobs/"+job+"/cancel", admin.token, map[string]any{"reason": "policy"}, http.StatusOK)
	h := e.history(job)
	last := h[len(h)-1]
	if last.Type != events.TypeJobCancelled || last.Actor.ID != admin.id || last.Actor.Email != admin.email {
		t.Fatalf("cancel recorded as %s by %+v", last.Type, last.Actor)
	}
}

func TestIdempotentStartWithClientJobID(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{gate: make(chan struct{})})
	alice, bob := e.register("alice@example.com"), e.register("bob@example.com")
	req := map[string]any{
		"job_id":    "client-job-1",
		"documents": []any{map[string]any{"file_path": "a.pdf"}, map[string]any{"file_path": "b.pdf"}},
		"config":    map[string]any{"model_name": "builtin/keywords", "num_tags": 5},
	}
	first := e.mustCall("POST", "/api/batch/start", alice.token, req, 200)
	again := e.mustCall("POST", "/api/batch/start", alice.token, req, 200)
	job1 := services.OwnerScopedJobID(alice.id, "client-job-1") // client ids are scoped to their owner
	if first["job_id"] != job1 || again["job_id"] != job1 || again["total_documents"].(float64) != 2 {
		t.Fatalf("idempotent start: %v then %v", first, again)
	}
	starts := 0
	for _, ev := range e.history(job1) {
		if ev.Type == events.TypeJobStarted {
			starts++
		}
		if ev.Type == events.TypeDocumentsSubmitted && ev.Seq > 0 {
			continue
		}
	}
	if starts != 1 {
		t.Fatalf("%d JobStarted events after a repeated start, want 1", starts)
	}
	req["config"] = map[string]any{"model_name": "builtin/keywords", "num_tags": 6}
	e.mustCall("POST", "/api/batch/start", alice.token, req, http.StatusConflict)
	req["config"] = map[string]any{"model_name": "builtin/keywords", "num_tags": 5}
	// Bob's "client-job-1" is his own job: nothing to squat, nothing to probe.
	if b := e.mustCall("POST", "/api/batch/start", bob.token, req, 200); b["job_id"] == job1 {
		t.Fatalf("bob got alice's job: %v", b)
	}

	// Concurrent identical starts: one job, every caller gets it.
	req["job_id"] = "client-job-2"
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = e.call("POST", "/api/batch/start", alice.token, req)
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("concurrent identical start %d: status %d", i, st)
		}
	}
	chunks := 0
	for _, ev := range e.history(services.OwnerScopedJobID(alice.id, "client-job-2")) {
		if ev.Type == events.TypeDocumentsSubmitted {
			chunks++
		}
	}
	if chunks != 1 {
		t.Errorf("concurrent identical starts stored the documents %d times", chunks)
	}
}

func TestColumnMappingAndSourceInference(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("alice@example.com")
	req := map[string]any{
		"documents": []any{
			map[string]any{"Document URL": "https://example.com/a.pdf", "Name": "Annual plan", "Dept": "Water", "Year": 2024},
			map[string]any{"Document URL": "s3://bucket/key.pdf", "Name": "From S3"},
			map[string]any{"Document URL": "reports/c.pdf"},
			map[string]any{"Document URL": "https://example.com/d.pdf", "file_source_type": "URL"},
		},
		"column_mapping": map[string]any{"Document URL": "file_path", "Name": "title"},
		"config":         map[string]any{"model_name": "builtin/keywords"},
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, req, 200)["job_id"].(string)
	e.waitStatus(u, job, 20*time.Second, "completed")
	rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, 200)["results"].([]any)
	want := []struct{ path, typ, title string }{
		{"https://example.com/a.pdf", "url", "Annual plan"},
		{"s3://bucket/key.pdf", "s3", "From S3"},
		{"reports/c.pdf", "local", "c.pdf"},
		{"https://example.com/d.pdf", "url", "d.pdf"},
	}
	for i, w := range want {
		r := rows[i].(map[string]any)
		if r["file_path"] != w.path || r["file_source_type"] != w.typ || r["title"] != w.title || r["row_id"].(float64) != float64(i) {
			t.Errorf("row %d: %v, want %+v", i, r, w)
		}
	}
	r0 := rows[0].(map[string]any)
	if r0["Dept"] != "Water" || r0["Year"].(float64) != 2024 {
		t.Errorf("extra columns not kept: %v", r0)
	}
}

func TestPauseLetsInFlightFinishAndStartsNothingUntilResume(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = 3
	tagger := &fakeTagger{gate: make(chan struct{})}
	e := startEnv(t, cfg, tagger)
	u := e.register("alice@example.com")
	job := e.startJob(u, 12, nil)
	waitFor(t, "3 documents in flight", func() bool { return tagger.running.Load() == 3 })

	paused := e.mustCall("POST", "/api/batch/jobs/"+job+"/pause", u.token, map[string]any{"reason": "budget"}, 200)
	if paused["status"] != "paused" {
		t.Fatalf("pause answered %v", paused)
	}
	// Release the three in-flight documents: they finish, nothing new starts.
	for i := 0; i < 3; i++ {
		tagger.gate <- struct{}{}
	}
	waitFor(t, "in-flight documents recorded", func() bool { return e.status(u, job)["processed_count"].(float64) == 3 })
	time.Sleep(300 * time.Millisecond) // a worker that ignored the pause would have started by now
	if n := tagger.callCount(); n != 3 {
		t.Fatalf("%d documents reached the tagger while paused, want 3", n)
	}
	st := e.status(u, job)
	if st["status"] != "paused" || st["processed_count"].(float64) != 3 {
		t.Fatalf("while paused: %v", st)
	}
	e.mustCall("POST", "/api/batch/jobs/"+job+"/resume", u.token, nil, 200)
	close(tagger.gate)
	e.waitStatus(u, job, 20*time.Second, "completed")
	assertNoStartWhilePaused(t, e.history(job))
	assertOneOutcomePerDocument(t, e.history(job), 12)
}

func TestCancelStopsNewDocumentsAndKeepsResults(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = 2
	tagger := &fakeTagger{gate: make(chan struct{})}
	e := startEnv(t, cfg, tagger)
	u := e.register("alice@example.com")
	job := e.startJob(u, 10, nil)
	waitFor(t, "2 in flight", func() bool { return tagger.running.Load() == 2 })
	tagger.gate <- struct{}{}
	tagger.gate <- struct{}{}
	waitFor(t, "2 done", func() bool { return e.status(u, job)["processed_count"].(float64) == 2 })
	waitFor(t, "2 more in flight", func() bool { return tagger.running.Load() == 2 })
	e.mustCall("POST", "/api/batch/jobs/"+job+"/cancel", u.token, map[string]any{"reason": "wrong batch"}, 200)
	st := e.status(u, job)
	if st["status"] != "cancelled" || st["processed_count"].(float64) != 2 || st["cancelled_count"].(float64) != 8 {
		t.Fatalf("after cancel: %v", st)
	}
	close(tagger.gate) // the two in-flight documents finish after the cancel
	waitFor(t, "late outcomes recorded", func() bool { return e.status(u, job)["processed_count"].(float64) == 4 })
	st = e.status(u, job)
	if st["cancelled_count"].(float64) != 6 || st["status"] != "cancelled" {
		t.Fatalf("final: %v", st)
	}
	rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results?limit=1000", u.token, nil, 200)["results"].([]any)
	byStatus := map[string]int{}
	for _, r := range rows {
		byStatus[r.(map[string]any)["status"].(string)]++
	}
	if byStatus["success"] != 4 || byStatus["cancelled"] != 6 {
		t.Fatalf("results by status: %v", byStatus)
	}
	assertOneOutcomePerDocument(t, e.history(job), 10)

	// Proof that nothing started after the cancel, without sleeping: once
	// the job's tasks are gone from the task stream (purged on cancel, the
	// two in flight acknowledged) no worker can begin one; stopping the
	// process then makes its log final, and the whole log is checked.
	waitFor(t, "the job's tasks leave the task stream", func() bool {
		n, err := e.app.taskBacklog(context.Background())
		return err == nil && n == 0
	})
	h := e.finalHistory(job)
	assertNoStartAfterCancel(t, h)
	if n := tagger.callCount(); n != 4 {
		t.Fatalf("%d documents reached the tagger, want 4 (none after the cancel)", n)
	}
}

// assertNoStartAfterCancel fails on a DocumentStarted that follows the
// job's JobCancelled in the log.
func assertNoStartAfterCancel(t *testing.T, h []events.Envelope) {
	t.Helper()
	cancelled := false
	for _, ev := range h {
		switch ev.Type {
		case events.TypeJobCancelled:
			cancelled = true
		case events.TypeDocumentStarted:
			if cancelled {
				t.Fatalf("DocumentStarted at seq %d (%s) after JobCancelled", ev.Seq, ev.Subject)
			}
		}
	}
	if !cancelled {
		t.Fatal("no JobCancelled in the log")
	}
}

func TestRacingCommandsNeverMakeAnImpossibleHistory(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = 2
	tagger := &fakeTagger{gate: make(chan struct{})}
	e := startEnv(t, cfg, tagger)
	u := e.register("alice@example.com")
	job := e.startJob(u, 4, nil)
	// Pause and resume fired concurrently, many times.
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		action := []string{"pause", "resume"}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, body := e.call("POST", "/api/batch/jobs/"+job+"/"+action, u.token, nil)
			if st != 200 && st != 409 {
				t.Errorf("%s: %d %v", action, st, body)
			}
		}()
	}
	wg.Wait()
	assertLegalControlHistory(t, e.history(job))
	e.mustCall("POST", "/api/batch/jobs/"+job+"/cancel", u.token, nil, 200)
	close(tagger.gate)
	waitFor(t, "first job's documents settle", func() bool { return tagger.running.Load() == 0 })

	// Cancel racing the completion of the last document.
	for round := 0; round < 5; round++ {
		tagger2 := make(chan struct{})
		tagger.setGate(tagger2)
		job := e.startJob(u, 1, nil)
		waitFor(t, "document in flight", func() bool { return tagger.running.Load() == 1 })
		done := make(chan int)
		go func() { st, _ := e.call("POST", "/api/batch/jobs/"+job+"/cancel", u.token, nil); done <- st }()
		close(tagger2)
		if st := <-done; st != 200 && st != 409 {
			t.Fatalf("cancel: %d", st)
		}
		final := e.waitStatus(u, job, 10*time.Second, "completed", "cancelled")
		waitFor(t, "outcome recorded", func() bool { return tagger.running.Load() == 0 })
		h := e.history(job)
		assertLegalControlHistory(t, h)
		terminal := 0
		for _, ev := range h {
			if events.Terminal(statusAfter(ev.Type)) {
				terminal++
			}
		}
		if terminal != 1 {
			t.Fatalf("round %d: %d terminal events (%s)", round, terminal, final["status"])
		}
	}
}

func TestProjectionRebuildEqualsLiveModels(t *testing.T) {
	cfg := testConfig(t)
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		if in.Document.Row%3 == 0 {
			return fmt.Errorf("fake failure for row %d", in.Document.Row)
		}
		return nil
	}}
	e := startEnv(t, cfg, tagger)
	alice, bob := e.register("alice@example.com"), e.register("bob@example.com")
	done := e.startJob(alice, 9, nil)
	e.waitStatus(alice, done, 20*time.Second, "completed")
	gate := make(chan struct{})
	tagger.setGate(gate)
	paused := e.startJob(bob, 6, nil)
	waitFor(t, "in flight", func() bool { return tagger.running.Load() > 0 })
	e.mustCall("POST", "/api/batch/jobs/"+paused+"/pause", bob.token, nil, 200)
	cancelled := e.startJob(alice, 5, nil)
	e.mustCall("POST", "/api/batch/jobs/"+cancelled+"/cancel", alice.token, nil, 200)
	close(gate)
	waitFor(t, "quiet", func() bool { return tagger.running.Load() == 0 })
	e.mustCall("POST", "/api/batch/jobs/"+paused+"/resume", bob.token, nil, 200)
	e.waitStatus(bob, paused, 20*time.Second, "completed")
	// The cancelled job's in-flight documents append their outcomes after
	// the tagger returns: wait until no worker holds a task, so the log is
	// final before the live models are read.
	waitFor(t, "workers idle", func() bool {
		_, fams := scrape(t, e)
		return value(t, fams, "tagstream_documents_in_flight", nil) == 0
	})

	ctx := context.Background()
	if err := e.app.fresh.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// The SQL models: each rebuilt beside the serving generation, then
	// switched to, answers exactly as the live one did.
	live, err := modelDigests(ctx, e.app.read)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range sqlModels() {
		before := statusOf(e.app.read, m.Name()).Generation
		if err := e.app.read.Rebuild(ctx, m.Name(), nil); err != nil {
			t.Fatal(err)
		}
		if after := statusOf(e.app.read, m.Name()).Generation; after != before+1 {
			t.Fatalf("%s: generation %d after a rebuild of %d", m.Name(), after, before)
		}
	}
	rebuilt, err := modelDigests(ctx, e.app.read)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(live, "\n") != strings.Join(rebuilt, "\n") {
		t.Fatalf("rebuilt models differ from the live ones:\nlive:    %s\nrebuilt: %s", live, rebuilt)
	}
	j, _, _ := e.app.jobs.Get(ctx, done)
	if j.Processed != 6 || j.Failed != 3 || j.Status != "completed" {
		t.Fatalf("rebuilt job: %+v", j)
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertNoStartWhilePaused checks that no DocumentStarted lies between a
// JobPaused and the next JobResumed in the log.
func assertNoStartWhilePaused(t *testing.T, h []events.Envelope) {
	t.Helper()
	paused := false
	for _, ev := range h {
		switch ev.Type {
		case events.TypeJobPaused:
			paused = true
		case events.TypeJobResumed:
			paused = false
		case events.TypeDocumentStarted:
			if paused {
				t.Fatalf("DocumentStarted at seq %d while the job was paused", ev.Seq)
			}
		}
	}
}

// assertOneOutcomePerDocument checks every document has exactly one
// DocumentTagged/DocumentFailed per attempt (cancelled ones may have none).
func assertOneOutcomePerDocument(t *testing.T, h []events.Envelope, total int) {
	t.Helper()
	outcomes := map[string]int{}
	for _, ev := range h {
		if ev.Type == events.TypeDocumentTagged || ev.Type == events.TypeDocumentFailed {
			outcomes[ev.Subject]++
		}
	}
	var dup []string
	for subj, n := range outcomes {
		if n > 1 {
			dup = append(dup, subj)
		}
	}
	sort.Strings(dup)
	if len(dup) > 0 {
		t.Fatalf("documents with more than one outcome: %v", dup)
	}
	if len(outcomes) > total {
		t.Fatalf("%d documents have outcomes, job has %d", len(outcomes), total)
	}
}

// assertLegalControlHistory replays control events through the transition
// rules and fails on any impossible step.
func assertLegalControlHistory(t *testing.T, h []events.Envelope) {
	t.Helper()
	status := ""
	for _, ev := range h {
		next := statusAfter(ev.Type)
		if next == "" {
			continue
		}
		ok := false
		switch ev.Type {
		case events.TypeJobStarted:
			ok = status == ""
		case events.TypeJobPaused:
			ok = status == events.StatusPending || status == events.StatusProcessing
		case events.TypeJobResumed:
			ok = status == events.StatusPaused
		case events.TypeJobCancelled:
			ok = status != "" && !events.Terminal(status)
		case events.TypeJobCompleted, events.TypeJobFailed:
			ok = status != "" && !events.Terminal(status)
		case events.TypeJobRetried:
			ok = events.Terminal(status)
		}
		if !ok {
			t.Fatalf("impossible transition at seq %d: %s while %q", ev.Seq, ev.Type, status)
		}
		status = next
	}
}

// statusAfter is this test's own oracle of the status a control event
// names, kept apart from services/job so the two can disagree and be caught.
func statusAfter(eventType string) string {
	switch eventType {
	case events.TypeJobStarted, events.TypeJobRetried:
		return events.StatusPending
	case events.TypeJobResumed:
		return events.StatusProcessing
	case events.TypeJobPaused:
		return events.StatusPaused
	case events.TypeJobCancelled:
		return events.StatusCancelled
	case events.TypeJobCompleted:
		return events.StatusCompleted
	case events.TypeJobFailed:
		return events.StatusFailed
	}
	return ""
}
