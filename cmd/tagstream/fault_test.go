package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/natsx"
	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/services"
)

// soakRounds is how many kill -9 rounds TestServeKill9Rounds runs: 10 in CI,
// more with TAGSTREAM_SOAK_ROUNDS (see `task soak`).
func soakRounds(t *testing.T) int {
	if v := os.Getenv("TAGSTREAM_SOAK_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("TAGSTREAM_SOAK_ROUNDS=%q: want a positive number", v)
		}
		return n
	}
	return 10
}

// TestServeKill9Rounds kills `tagstream serve` (embedded JetStream) with
// SIGKILL at random moments while 1,000-document jobs run, restarting it on
// the same data dir each time, and proves that every job then completes
// with exactly one outcome per document and nothing left in processing.
func TestServeKill9Rounds(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds (~40 s) skipped in -short mode")
	}
	root := testenv.Corpus(t)
	rounds := soakRounds(t)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("%d rounds, seed %d", rounds, seed)
	const secret = "sk-soak-test-5150"
	llm := llmfake.New(t, llmfake.Options{Latency: 2 * time.Millisecond, Key: secret})
	dataDir := t.TempDir()
	envVars := []string{"TAGSTREAM_LOCAL_ROOT=" + root, "TAGSTREAM_LLM_BASE_URL=" + llm.BaseURL(),
		"TAGSTREAM_WORKERS=8", "TAGSTREAM_TASK_ACK_WAIT=2s", "TAGSTREAM_LOG_LEVEL=warn"}
	total := 1000
	if raceEnabled() {
		total = 250 // the race detector slows the pipeline about tenfold
	}
	begin := time.Now()
	c := startChild(t, dataDir, envVars...)
	e := remote(t, c.url)
	u := e.register("soak@example.com")
	var jobs []string
	for round := 1; round <= rounds; round++ {
		// A new job every fourth round, or sooner when the last one is done,
		// so jobs overlap and the kills hit them at all stages. Every other
		// new job is started with the kill racing the start
		// itself; the client then repeats it under the same job_id, which
		// must give exactly one job either way.
		racing := false
		if n := len(jobs); round%4 == 1 || terminal(e.status(u, jobs[n-1])["status"]) {
			req := localJob(total, secret)
			req["job_id"] = fmt.Sprintf("soak-%d", round)
			jobs = append(jobs, services.OwnerScopedJobID(u.id, req["job_id"].(string)))
			if racing = len(jobs)%2 == 0; racing {
				go postAndForget(c.url+"/api/batch/start", u.token, req) // the kill may cut it off
				time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
			} else {
				e.mustCall("POST", "/api/batch/start", u.token, req, 200)
			}
		}
		if !racing {
			time.Sleep(time.Duration(200+rng.IntN(1800)) * time.Millisecond)
		}
		_, st := e.call("GET", "/api/batch/jobs/"+jobs[len(jobs)-1]+"/status", u.token, nil)
		c.kill9(t)
		t.Logf("round %d: killed at %v/%d of job %d (racing its start: %v)", round, st["processed_count"], total, len(jobs), racing)
		c = startChild(t, dataDir, envVars...)
		e.url = c.url
		if racing {
			req := localJob(total, secret)
			req["job_id"] = fmt.Sprintf("soak-%d", round) // the client repeats its own id
			e.mustCall("POST", "/api/batch/start", u.token, req, 200)
		}
	}
	for _, job := range jobs {
		final := waitProgressing(t, e, u, job, 30*time.Second)
		if final["status"] != "completed" || final["processed_count"].(float64) != float64(total) {
			t.Fatalf("job %s after the kills: %v", job, final)
		}
		starts, _ := checkExactlyOnce(t, e, u, job, total)
		rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results?limit=1000", u.token, nil, 200)["results"].([]any)
		for _, r := range rows {
			if st := r.(map[string]any)["status"]; st != "success" {
				t.Fatalf("job %s: row left %v: %v", job, st, r)
			}
		}
		t.Logf("job %s: %d documents, %d starts", job, total, starts)
	}
	if n := len(e.mustCall("GET", "/api/batch/active", u.token, nil, 200)["jobs"].([]any)); n != 0 {
		t.Errorf("%d jobs still active", n)
	}
	if llm.BadKeys() != 0 {
		t.Errorf("%d LLM calls carried a wrong key", llm.BadKeys())
	}
	t.Logf("%d kills over %d jobs of %d documents in %s, %d LLM calls", rounds, len(jobs), total,
		time.Since(begin).Round(time.Millisecond), llm.Calls())
}

// postAndForget sends a JSON POST whose outcome the caller does not need.
func postAndForget(url, token string, body any) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// waitProgressing waits for the job to end, failing only when it stops
// moving for stall: a slow machine is not a stuck job.
func waitProgressing(t *testing.T, e *env, u user, job string, stall time.Duration) map[string]any {
	t.Helper()
	var last float64 = -1
	moved := time.Now()
	for {
		st := e.status(u, job)
		if terminal(st["status"]) {
			return st
		}
		if done := st["processed_count"].(float64) + st["failed_count"].(float64); done != last {
			last, moved = done, time.Now()
		}
		if time.Since(moved) > stall {
			t.Fatalf("job %s stuck for %s: %v", job, stall, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// raceEnabled reports a -race build, whose tests get smaller workloads.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

func terminal(status any) bool {
	return status == "completed" || status == "failed" || status == "cancelled"
}

// TestNATSRestartWhileAPIIsUp stops the NATS server under a running serve
// process: requests that need NATS answer 503 "unavailable" within a bound
// (no hang), health says 503, and when NATS comes back on the same port and
// store the service recovers on its own.
func TestNATSRestartWhileAPIIsUp(t *testing.T) {
	outage := 100 * time.Millisecond
	if v, err := time.ParseDuration(os.Getenv("TAGSTREAM_TEST_OUTAGE")); err == nil {
		outage = v
	}
	addr := freeAddr(t)
	storeDir := t.TempDir()
	var ns *server.Server
	startNATS := func() {
		var err error
		if ns, err = natsx.StartEmbedded(storeDir, addr, testNATSAuth); err != nil {
			t.Fatal(err)
		}
	}
	stopNATS := func() {
		if ns != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
			ns = nil
		}
	}
	startNATS()
	t.Cleanup(stopNATS) // after the service's own clean-up (LIFO)
	cfg := testConfig(t)
	cfg.NatsURL = "nats://" + addr
	tagger := &fakeTagger{}
	e := startEnv(t, cfg, tagger)
	u := e.register("ops@example.com")
	before := e.startJob(u, 20, nil)
	e.waitStatus(u, before, 20*time.Second, "completed")

	stopNATS()
	waitFor(t, "health 503 while NATS is down", func() bool {
		st, _ := e.call("GET", "/api/health", "", nil)
		return st == http.StatusServiceUnavailable
	})
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/batch/jobs/never-seen-job/status"}, // forces a catch-up with the log
		{"POST", "/api/batch/start"},
		{"POST", "/api/batch/jobs/" + before + "/pause"},
		{"GET", "/api/batch/jobs/" + before + "/events"},
		{"POST", "/api/auth/login"},
	} {
		var body any
		switch req.path {
		case "/api/batch/start":
			body = map[string]any{"documents": []any{map[string]any{"file_path": "a.pdf"}}, "config": map[string]any{"model_name": "builtin/keywords"}}
		case "/api/auth/login":
			body = map[string]any{"email": u.email, "password": "correct-horse-1"}
		}
		start := time.Now()
		st, out := e.call(req.method, req.path, u.token, body)
		took := time.Since(start)
		if st != http.StatusServiceUnavailable || out["code"] != "unavailable" || out["detail"] == "" {
			t.Errorf("%s %s while NATS is down: %d %v, want 503 unavailable", req.method, req.path, st, out)
		}
		if took > 12*time.Second {
			t.Errorf("%s %s took %s while NATS is down", req.method, req.path, took)
		}
		t.Logf("%s %s: %d in %s", req.method, req.path, st, took.Round(time.Millisecond))
	}
	// What the read models already know is still served: status, history,
	// the search for a tagged document and the history statistics.
	if st := e.status(u, before); st["status"] != "completed" {
		t.Errorf("status of a known job during the outage: %v", st)
	}
	if st, out := e.call("GET", "/api/batch/jobs?limit=5", u.token, nil); st != http.StatusOK || !strings.Contains(fmt.Sprint(out["jobs"]), before) {
		t.Errorf("job history during the outage: %d %v", st, out)
	}
	if st, out := e.call("GET", "/api/documents?job_id="+before+"&limit=50", u.token, nil); st != http.StatusOK || len(out["documents"].([]any)) != 20 {
		t.Errorf("document search during the outage: %d %v", st, out)
	}
	if st, out := e.call("GET", "/api/history/stats", u.token, nil); st != http.StatusOK || out["total_jobs"] != 1.0 || out["total_documents"] != 20.0 {
		t.Errorf("history statistics during the outage: %d %v", st, out)
	}

	time.Sleep(outage)
	startNATS()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := e.call("GET", "/api/health", "", nil)
		if st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %d 20 s after NATS came back", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A new job runs end to end: the dispatcher enqueues it, the workers'
	// control watch sees it, and the read models follow the log again.
	var after string
	waitFor(t, "a start accepted after NATS came back", func() bool {
		st, out := e.call("POST", "/api/batch/start", u.token, map[string]any{
			"documents": []any{map[string]any{"file_path": "a.pdf"}, map[string]any{"file_path": "b.pdf"}, map[string]any{"file_path": "c.pdf"}},
			"config":    map[string]any{"model_name": "builtin/keywords"}})
		after, _ = out["job_id"].(string)
		return st == http.StatusOK
	})
	final := e.waitStatus(u, after, 30*time.Second, "completed")
	if final["processed_count"].(float64) != 3 {
		t.Fatalf("job after the restart: %v", final)
	}
	if n := len(e.history(after)); n < 6 {
		t.Fatalf("job after the restart has %d events", n)
	}
	e.mustCall("GET", "/api/batch/jobs/"+after+"/events", u.token, nil, 200)
	e.mustCall("POST", "/api/batch/jobs/"+after+"/pause", u.token, nil, http.StatusConflict) // commands work again
	t.Logf("tagger calls: %d", tagger.callCount())
}
