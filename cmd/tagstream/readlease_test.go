package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/projections"
)

// Two serve processes on one NATS and one PostgreSQL read database: one
// applies the log (it holds the lease, /api/ready and the metrics say
// so), both answer every read, a command on the other answers with its
// write visible. When the holder stops renewing (as a dead one would),
// the other takes over within the TTL and the first becomes a follower
// that still reads its own writes.
func TestServeProcessesShareAPostgresReadDatabase(t *testing.T) {
	pg := testenv.PostgresSchema(t)
	cfg := testConfig(t) // one data dir: the same signing keys, as a deployment shares them
	cfg.NatsURL, cfg.ReadDB, cfg.ReadLeaseTTL = startExternalNATS(t), pg, 2*time.Second
	first := startEnv(t, cfg, &fakeTagger{delay: 25 * time.Millisecond})
	second := startEnv(t, cfg, &fakeTagger{delay: 25 * time.Millisecond})

	lease := func(e *env) map[string]any {
		t.Helper()
		l, _ := e.mustCall("GET", "/api/ready", "", nil, http.StatusOK)["lease"].(map[string]any)
		if l == nil {
			t.Fatal("/api/ready has no lease with a shared PostgreSQL read database")
		}
		return l
	}
	a, b := lease(first), lease(second)
	if a["held"] != true || b["held"] != false || a["holder"] != a["this_process"] || b["holder"] != a["this_process"] {
		t.Fatalf("lease seen by the first: %v, by the second: %v", a, b)
	}
	if m, _ := scrape(t, second); !strings.Contains(m, `tagstream_projection_lease_held{holder="`+a["this_process"].(string)+`"} 0`) {
		t.Fatalf("the follower's metrics do not name the holder:\n%s", m)
	}

	// Read your writes through the process that does not apply.
	u := second.register("ana@example.com")
	job := second.startJob(u, 6, nil)
	if st := second.status(u, job); st["status"] == nil {
		t.Fatalf("the follower does not show the job it just started: %v", st)
	}
	second.waitStatus(u, job, 30*time.Second, "completed")
	first.waitStatus(u, job, 30*time.Second, "completed")

	// Live observers on the follower, connecting while the job runs: a
	// catch-up, then every document's outcome exactly once.
	const total = 40
	live := second.startJob(u, total, nil)
	var wg sync.WaitGroup
	seen := make([]observation, 6)
	for i := range seen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i*15) * time.Millisecond) // connect at different moments
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			seen[i] = observe(ctx, wsURL(second, live, u.token))
		}()
	}
	wg.Wait()
	for i, o := range seen {
		if o.err != nil {
			t.Fatalf("observer %d on the follower: %v", i, o.err)
		}
		checkObservation(t, o, total)
	}

	// The holder stops renewing; the second takes over within the budget.
	first.app.stopLease()
	died := time.Now()
	for lease(second)["held"] != true {
		if time.Since(died) > 15*time.Second {
			t.Fatalf("no takeover within 15 s: %v", lease(second))
		}
		select {
		case <-second.app.lease.Changed():
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("taken over after %s (TTL %s)", time.Since(died).Round(time.Millisecond), cfg.ReadLeaseTTL)
	if l := lease(first); l["held"] != false {
		t.Fatalf("the old holder still says it applies: %v", l)
	}
	// The old holder now follows: its commands still read their writes.
	job2 := first.startJob(u, 4, nil)
	if st := first.status(u, job2); st["status"] == nil {
		t.Fatalf("the old holder does not show the job it just started: %v", st)
	}
	first.waitStatus(u, job2, 30*time.Second, "completed")
	second.waitStatus(u, job2, 30*time.Second, "completed")
	ctx := context.Background()
	if err := first.app.fresh.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.app.fresh.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*env{first, second} {
		for _, st := range e.app.read.Status() {
			if st.State != "running" {
				t.Fatalf("model %s is %s: %s", st.Name, st.State, st.Reason)
			}
		}
	}
}

// `projections rebuild` while serve (embedded NATS, SQLite) holds the data
// dir: the command asks the running serve, which rebuilds beside the
// serving models and keeps answering; the command shows the progress
// (events done of total, rate, ETA) and the rebuilt models' digests,
// which equal the live ones, and /api/ready shows the new generation.
func TestProjectionsRebuildAsksTheRunningServe(t *testing.T) {
	cfg := testConfig(t)
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("ana@example.com")
	job := e.startJob(u, 30, nil)
	e.waitStatus(u, job, 30*time.Second, "completed")
	ctx := context.Background()
	if err := e.app.fresh.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	live, err := modelDigests(ctx, e.app.read, projections.JobStatusName)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs([]string{"projections", "rebuild", "--data-dir", cfg.DataDir, projections.JobStatusName})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("rebuild against a running serve: %v (%s)", err, errOut.String())
	}
	progress := regexp.MustCompile(`rebuilding ` + projections.JobStatusName + `: (\d+) of (\d+) events \(\d+%\), \d+ events/s, ETA \S+`)
	all := progress.FindAllStringSubmatch(errOut.String(), -1)
	if len(all) == 0 || all[len(all)-1][1] != all[len(all)-1][2] {
		t.Fatalf("no final progress line (done of total, rate, ETA):\n%s", errOut.String())
	}
	if len(live) != 1 || !strings.Contains(out.String(), live[0]) || strings.Contains(out.String(), projections.DocumentSearchName) {
		t.Fatalf("want the rebuilt model's digest, as live, alone (%q) in:\n%s", live, out.String())
	}
	// The serve switched to the new generation and still answers.
	if g := statusOf(e.app.read, projections.JobStatusName).Generation; g != 2 {
		t.Fatalf("serve's %s generation %d after the rebuild, want 2", projections.JobStatusName, g)
	}
	if st := e.status(u, job); st["status"] != "completed" {
		t.Fatalf("job after the rebuild: %v", st)
	}
	// An unknown model is refused before anything runs.
	root = newRootCmd(&out, &errOut)
	root.SetArgs([]string{"projections", "rebuild", "--data-dir", cfg.DataDir, "nope"})
	if err := root.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), `no read model "nope"`) {
		t.Fatalf("unknown model: %v", err)
	}
}
