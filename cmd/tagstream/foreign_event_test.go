package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
)

// foreign builds an event as a newer release would write it: a type this
// build does not know, or a known type at a version it does not know.
func foreign(job, typ string, v int) events.Envelope {
	return events.Envelope{ID: events.NewID(), Type: typ, JobID: job, Time: time.Now().UTC(),
		Actor: events.System, Version: v, Data: json.RawMessage(`{"archived_by":"ops","note":"from the future"}`),
		Subject: events.ControlSubject(job)}
}

// A release that added an event type can be rolled back: events this build
// does not know are skipped and counted, whether they arrive while it runs
// or were in the log before it started. Other jobs keep being served, the
// read models keep following the log, restart works, /api/ready says
// "degraded" (still 200) and the skip metric counts by reader and type.
func TestForeignEventsAreSkipped(t *testing.T) {
	cfg := testConfig(t)
	tagger := &fakeTagger{}
	e := startEnv(t, cfg, tagger)
	u := e.register("ana@example.com")
	a := e.startJob(u, 3, nil)
	e.waitStatus(u, a, 30*time.Second, "completed")
	b := e.startJob(u, 2, nil)
	e.waitStatus(u, b, 30*time.Second, "completed")

	// While running: an unknown type and a known type at v99 on a's
	// control subject.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last uint64
	for _, env := range []events.Envelope{foreign(a, "JobArchived", 1), foreign(a, events.TypeJobPaused, 99)} {
		seq, err := e.app.store.Append(ctx, env, nil)
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	if err := e.app.fresh.WaitFor(ctx, last); err != nil {
		t.Fatalf("read models stopped at the foreign events: %v", err)
	}
	servesJobs(t, e, u, a, b)
	c := e.startJob(u, 2, nil) // the models follow the log past the foreign events
	if st := e.status(u, c); st["job_id"] != c {
		t.Fatalf("job started after the foreign events: %v", st)
	}
	assertDegraded(t, e, map[string]float64{"JobArchived": 1, events.TypeJobPaused: 1})
	e.waitStatus(u, c, 30*time.Second, "completed")
	e.shutdown()

	// While stopped: another unknown event, on b's control subject.
	off, err := openApp(ctx, cfg, roles{}, nil, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.store.Append(ctx, foreign(b, "JobArchived", 1), nil); err != nil {
		t.Fatal(err)
	}
	off.close()

	// Restart: the rebuild skips all three, and serving goes on.
	e = startEnv(t, cfg, tagger)
	servesJobs(t, e, u, a, b)
	if st := e.status(u, c); st["job_id"] != c {
		t.Fatalf("job c after restart: %v", st)
	}
	assertDegraded(t, e, map[string]float64{"JobArchived": 2, events.TypeJobPaused: 1})
	d := e.startJob(u, 1, nil)
	if st := e.status(u, d); st["job_id"] != d {
		t.Fatalf("job started after restart: %v", st)
	}
	e.waitStatus(u, c, 30*time.Second, "completed")
	e.waitStatus(u, d, 30*time.Second, "completed")
	e.shutdown()

	// The operator's rebuild replays past them too, and says so.
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs([]string{"projections", "rebuild", "--data-dir", cfg.DataDir})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("rebuild over foreign events: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), "skipped 3 events this build does not know (types: JobArchived, JobPaused)") {
		t.Fatalf("rebuild output does not report the skipped events:\n%s", out.String())
	}
}

// servesJobs checks that the finished jobs still answer status and results
// from the read models.
func servesJobs(t *testing.T, e *env, u user, jobs ...string) {
	t.Helper()
	for _, job := range jobs {
		if st := e.status(u, job); st["status"] != "completed" {
			t.Errorf("job %s: %v, want completed", job, st)
		}
		res := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, http.StatusOK)
		rows, _ := res["results"].([]any)
		if len(rows) == 0 {
			t.Errorf("job %s has no results: %v", job, res)
		}
	}
}

// assertDegraded checks /api/ready (200, "degraded") and the skip metric of
// the read models, per type.
func assertDegraded(t *testing.T, e *env, want map[string]float64) {
	t.Helper()
	st, body := e.call("GET", "/api/ready", "", nil)
	if st != http.StatusOK || body["status"] != "degraded" {
		t.Errorf("/api/ready: %d %v, want 200 degraded", st, body)
	}
	_, fams := scrape(t, e)
	for typ, n := range want {
		m := sample(fams, "tagstream_events_skipped_total", map[string]string{"reader": events.ReaderProjections, "type": typ})
		if m == nil || m.GetCounter().GetValue() != n {
			t.Errorf("skipped %s: %v, want %v", typ, m, n)
		}
	}
}
