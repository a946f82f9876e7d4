package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/services/dispatch"
)

// startProcess runs `tagstream <role>` as a child process (see
// TestHelperProcess). A serve child is returned once /api/health answers.
func startProcess(t *testing.T, role, dataDir string, env ...string) *child {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "--", role)
	cmd.Env = append(os.Environ(), "TAGSTREAM_HELPER_PROCESS=1", "TAGSTREAM_ADDR="+addr, "TAGSTREAM_DATA_DIR="+dataDir)
	if role == "worker" {
		// A worker serves /api/health there once its workers run: the
		// test waits for it as for serve, so a worker slow to start on a
		// loaded machine is not a worker that took no part.
		cmd.Env = append(cmd.Env, "TAGSTREAM_METRICS_ADDR="+addr)
	}
	cmd.Env = append(cmd.Env, env...)
	c := &child{cmd: cmd, url: "http://" + addr, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.logs.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if role == "serve" {
		c.waitHealthy(t, role)
	}
	return c
}

// waitHealthy waits until the child answers /api/health with 200, and
// fails the test when it gives up or takes over 45 s.
func (c *child) waitHealthy(t *testing.T, role string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		resp, err := http.Get(c.url + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		// run() prints "tagstream: <error>" when the process gives up.
		if time.Now().After(deadline) || strings.HasPrefix(c.logText(), "tagstream: ") || strings.Contains(c.logText(), "\ntagstream: ") {
			t.Fatalf("%s child did not become healthy: %v\n%s", role, err, c.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// localJob builds n documents over corpus PDFs that all tag successfully.
func localJob(n int, apiKey string) map[string]any {
	files := []string{"circular-water.pdf", "tender-notice.pdf", "groff-report.pdf", "texlive-lppl.pdf"}
	docs := make([]any, n)
	for i := range docs {
		docs[i] = map[string]any{"file_path": files[i%len(files)], "title": fmt.Sprintf("doc %d", i)}
	}
	return map[string]any{"documents": docs,
		"config": map[string]any{"api_key": apiKey, "model_name": "openai/gpt-4o-mini", "num_tags": 5, "cache": false}}
}

// checkExactlyOnce proves, from the job's audit trail, that every row has
// exactly one outcome and that the status counts equal the results.
// It returns the number of DocumentStarted events and outcomes per actor id.
func checkExactlyOnce(t *testing.T, e *env, u user, job string, total int) (starts int, byActor map[string]int) {
	t.Helper()
	evs := e.mustCall("GET", "/api/batch/jobs/"+job+"/events?limit=10000", u.token, nil, 200)["events"].([]any)
	outcomes := map[int]int{}
	var tagged, failed int
	byActor = map[string]int{}
	for _, raw := range evs {
		ev := raw.(map[string]any)
		switch ev["type"] {
		case events.TypeDocumentTagged, events.TypeDocumentFailed:
			outcomes[int(ev["data"].(map[string]any)["row"].(float64))]++
			if a, ok := ev["actor"].(map[string]any); ok {
				id, _ := a["id"].(string)
				byActor[id]++
			}
			if ev["type"] == events.TypeDocumentTagged {
				tagged++
			} else {
				failed++
			}
		case events.TypeDocumentStarted:
			starts++
		}
	}
	if len(outcomes) != total {
		t.Errorf("job %s: %d rows have an outcome, want %d", job, len(outcomes), total)
	}
	for row, n := range outcomes {
		if n != 1 {
			t.Errorf("job %s: row %d has %d outcomes", job, row, n)
		}
	}
	st := e.status(u, job)
	if int(st["processed_count"].(float64)) != tagged || int(st["failed_count"].(float64)) != failed {
		t.Errorf("job %s: status counts %v/%v, log has %d tagged, %d failed", job, st["processed_count"], st["failed_count"], tagged, failed)
	}
	res := map[string]int{}
	rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results?limit=1000", u.token, nil, 200)["results"].([]any)
	for _, r := range rows {
		res[r.(map[string]any)["status"].(string)]++
	}
	if len(rows) != total || res["success"] != tagged || res["failed"] != failed {
		t.Errorf("job %s: results %v over %d rows; log has %d tagged, %d failed", job, res, len(rows), tagged, failed)
	}
	return starts, byActor
}

// copyKeys copies the API's signing keys, private as they were (0600).
func copyKeys(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(to, e.Name()), b, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func newSecretsKey(t *testing.T) string {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// TestClusterSurvivesLeaderLossAndWorkerKill runs two serve and two worker
// processes against a real 3-node JetStream cluster, kills the event
// stream's leader node and one worker mid-job, and proves the job still
// completes with every document tagged exactly once.
func TestClusterSurvivesLeaderLossAndWorkerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test (3 NATS nodes, 4 processes, ~15 s) skipped in -short mode")
	}
	root := testenv.Corpus(t)
	cl := natstest.StartCluster(t, 3)
	const secret = "sk-cluster-test-7319"
	llm := llmfake.New(t, llmfake.Options{Latency: 20 * time.Millisecond, Key: secret})
	envVars := []string{"TAGSTREAM_NATS_URL=" + cl.URL(), "TAGSTREAM_SECRETS_KEY=" + newSecretsKey(t),
		"TAGSTREAM_LOCAL_ROOT=" + root, "TAGSTREAM_LLM_BASE_URL=" + llm.BaseURL(),
		"TAGSTREAM_WORKERS=4", "TAGSTREAM_TASK_ACK_WAIT=2s", "TAGSTREAM_LOG_LEVEL=info"}

	// The first API process creates the signing key; the second gets a
	// copy, so either verifies the other's tokens.
	dir1, dir2 := t.TempDir(), t.TempDir()
	api1 := startProcess(t, "serve", dir1, envVars...)
	copyKeys(t, filepath.Join(dir1, "keys"), filepath.Join(dir2, "keys"))
	api2 := startProcess(t, "serve", dir2, envVars...)
	workers := []*child{startProcess(t, "worker", t.TempDir(), envVars...), startProcess(t, "worker", t.TempDir(), envVars...)}
	for _, w := range workers {
		w.waitHealthy(t, "worker")
	}

	// Every stream (events, tasks, KV buckets) is replicated three times.
	nc, err := nats.Connect(cl.URL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	names := map[string]int{}
	for info := range js.ListStreams(ctx).Info() {
		names[info.Config.Name] = info.Config.Replicas
	}
	if names[events.Stream] != 3 || names[dispatch.TaskStream] != 3 {
		t.Fatalf("stream replicas: %v, want 3 for %s and %s", names, events.Stream, dispatch.TaskStream)
	}
	for name, r := range names {
		if r != 3 {
			t.Errorf("stream %s has %d replicas, want 3", name, r)
		}
	}

	e1, e2 := remote(t, api1.url), remote(t, api2.url)
	u := e1.register("ops@example.com")
	const total = 200
	start := time.Now()
	job := e2.mustCall("POST", "/api/batch/start", u.token, localJob(total, secret), 200)["job_id"].(string)
	e1.status(u, job) // the other API process sees it too

	waitFor(t, "a quarter of the job before the faults", func() bool {
		st := e1.status(u, job)
		return st["processed_count"].(float64)+st["failed_count"].(float64) >= total/4
	})
	stream, err := js.Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil || info.Cluster == nil || cl.Index(info.Cluster.Leader) < 0 {
		t.Fatalf("event stream leader: %v %+v", err, info)
	}
	leader := info.Cluster.Leader
	cl.Stop(cl.Index(leader))
	workers[0].kill9(t)
	st := e1.status(u, job)
	t.Logf("stopped leader %s and SIGKILLed a worker at %v/%d documents, %s into the job", leader, st["processed_count"], total, time.Since(start).Round(time.Millisecond))

	final := e1.waitStatus(u, job, 60*time.Second, "completed", "failed")
	if final["status"] != "completed" || final["processed_count"].(float64) != total {
		t.Fatalf("final status: %v\napi1 logs:\n%s", final, tail(api1.logText(), 40))
	}
	starts, byActor := checkExactlyOnce(t, e1, u, job, total)
	e2.waitStatus(u, job, 10*time.Second, "completed") // both read models agree
	checkExactlyOnce(t, e2, u, job, total)
	if info, err := stream.Info(ctx); err == nil && info.Cluster != nil {
		t.Logf("new event stream leader: %s", info.Cluster.Leader)
	}
	t.Logf("%d documents in %s across 4 processes, %d starts, %d LLM calls", total, time.Since(start).Round(time.Millisecond), starts, llm.Calls())
	if llm.BadKeys() != 0 {
		t.Errorf("%d LLM calls carried a wrong key", llm.BadKeys())
	}
	// Every process took part, the surviving worker process included (it
	// decrypted the job's key with the shared secrets key).
	perProc := map[int]int{}
	for id, n := range byActor {
		for _, c := range []*child{api1, api2, workers[0], workers[1]} {
			if strings.Contains(id, fmt.Sprintf("-%d-", c.cmd.Process.Pid)) {
				perProc[c.cmd.Process.Pid] += n
			}
		}
	}
	t.Logf("outcomes per process (api1, api2, killed worker, worker): %d, %d, %d, %d", perProc[api1.cmd.Process.Pid],
		perProc[api2.cmd.Process.Pid], perProc[workers[0].cmd.Process.Pid], perProc[workers[1].cmd.Process.Pid])
	if perProc[workers[1].cmd.Process.Pid] == 0 {
		t.Errorf("the worker process recorded no outcome; actors: %v\nworker logs:\n%s", byActor, tail(workers[1].logText(), 60))
	}
	if os.Getenv("CLUSTER_DEBUG") != "" {
		t.Logf("job started %s; surviving worker logs:\n%s", start.UTC().Format(time.RFC3339Nano), workers[1].logText())
	}
	_ = workers[1].cmd.Process.Signal(syscall.SIGTERM)
	t.Logf("warnings and errors logged by the processes: %v", problemCounts(api1, api2, workers[0], workers[1]))
}

// problemCounts counts WARN and ERROR log lines by message, to spot a
// loop that spins on an error instead of recovering.
func problemCounts(cs ...*child) map[string]int {
	out := map[string]int{}
	for _, c := range cs {
		for _, line := range strings.Split(c.logText(), "\n") {
			var rec struct{ Level, Msg string }
			if json.Unmarshal([]byte(line), &rec) == nil && (rec.Level == "WARN" || rec.Level == "ERROR") {
				out[rec.Level+" "+rec.Msg]++
			}
		}
	}
	return out
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
