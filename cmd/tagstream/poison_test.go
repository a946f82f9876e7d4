package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/services/job"
	"github.com/tagstream/tagstream/services/pipeline"
)

// dieOnTitle is the test hook that stands in for a poison document: in a
// helper process, starting to tag the document with this title kills the
// whole process with SIGKILL, as an out-of-memory kill or a parser crash
// would. Only the test binary has it.
const dieOnTitleEnv = "TAGSTREAM_TEST_DIE_ON_TITLE"

func init() {
	title := os.Getenv(dieOnTitleEnv)
	if title == "" || os.Getenv("TAGSTREAM_HELPER_PROCESS") != "1" {
		return
	}
	wrapTagger = func(next pipeline.Tagger) pipeline.Tagger {
		return pipeline.TaggerFunc(func(ctx context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
			if in.Document.Title == title {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
			return next.Tag(ctx, in)
		})
	}
}

// mortal is a serve child that may die of the poison at any time, even
// before it answers its first health check.
type mortal struct {
	*child
	exited chan struct{}
}

func spawnMortal(t *testing.T, dataDir string, env ...string) *mortal {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "--", "serve")
	cmd.Env = append(os.Environ(), "TAGSTREAM_HELPER_PROCESS=1", "TAGSTREAM_ADDR="+addr, "TAGSTREAM_DATA_DIR="+dataDir)
	cmd.Env = append(cmd.Env, env...)
	logs := &bytes.Buffer{}
	cmd.Stderr = &lockedWriter{w: logs, mu: &sync.Mutex{}}
	m := &mortal{child: &child{cmd: cmd, url: "http://" + addr, logs: logs, mu: cmd.Stderr.(*lockedWriter).mu}, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(m.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-m.exited })
	return m
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// healthy waits until the child answers /api/health, or reports false if
// it died first.
func (m *mortal) healthy(t *testing.T) bool {
	t.Helper()
	deadline := time.After(45 * time.Second)
	for {
		if resp, err := http.Get(m.url + "/api/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true
			}
		}
		select {
		case <-m.exited:
			return false
		case <-deadline:
			t.Fatalf("serve child neither healthy nor dead after 45s\n%s", m.logText())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestPoisonDocumentIsQuarantinedAfterRepeatedDeaths(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	const secret = "sk-poison-test-4242"
	llm := llmfake.New(t, llmfake.Options{Latency: 5 * time.Millisecond, Key: secret})
	dataDir := t.TempDir()
	envVars := []string{"TAGSTREAM_LOCAL_ROOT=" + tinyRoot(t), "TAGSTREAM_LLM_BASE_URL=" + llm.BaseURL(),
		"TAGSTREAM_WORKERS=2", "TAGSTREAM_TASK_ACK_WAIT=1s", "TAGSTREAM_LOG_LEVEL=info", dieOnTitleEnv + "=poison"}

	c := spawnMortal(t, dataDir, envVars...)
	if !c.healthy(t) {
		t.Fatalf("the first child died before the job started\n%s", c.logText())
	}
	e := remote(t, c.url)
	u := e.register("poison@example.com")
	const total, poisonRow = 8, 3
	docs := make([]any, total)
	for i := range docs {
		title := fmt.Sprintf("doc %d", i)
		if i == poisonRow {
			title = "poison"
		}
		docs[i] = map[string]any{"file_path": "tiny.pdf", "title": title}
	}
	// cache false: every row is the same file, and with the cache the
	// other rows would take the first row's outcome (twins) instead of
	// being tagged, the poison one among them.
	cfg := map[string]any{"api_key": secret, "model_name": "openai/gpt-4o-mini", "num_tags": 3, "cache": false}
	jobID := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs, "config": cfg}, 200)["job_id"].(string)

	// Each start of the poison document kills the process; each restart
	// gets the task again once its ack wait has passed, sometimes before
	// it has answered a health check. Restart it as a supervisor would.
	deaths := 0
	for deaths < job.PoisonAfter {
		select {
		case <-c.exited:
		case <-time.After(60 * time.Second):
			t.Fatalf("the child did not die on the poison document (%d deaths so far)\n%s", deaths, c.logText())
		}
		deaths++
		c = spawnMortal(t, dataDir, envVars...)
		if deaths < job.PoisonAfter && !c.healthy(t) {
			continue
		}
	}
	if !c.healthy(t) {
		t.Fatalf("the child died a %dth time: the poison document was not quarantined\n%s", deaths+1, c.logText())
	}
	e.url = c.url
	final := e.waitStatus(u, jobID, 60*time.Second, "completed", "failed")
	if final["status"] != "completed" || final["processed_count"].(float64) != total-1 || final["failed_count"].(float64) != 1 {
		t.Fatalf("after %d deaths: %v\n%s", job.PoisonAfter, final, c.logText())
	}
	evs := e.mustCall("GET", "/api/batch/jobs/"+jobID+"/events?limit=10000", u.token, nil, 200)["events"].([]any)
	starts, poison := 0, 0
	for _, raw := range evs {
		ev := raw.(map[string]any)
		data := ev["data"].(map[string]any)
		if data["row"] != float64(poisonRow) {
			continue
		}
		switch ev["type"] {
		case events.TypeDocumentStarted:
			starts++
		case events.TypeDocumentTagged:
			t.Fatalf("the poison document was tagged: %v", ev)
		case events.TypeDocumentFailed:
			if data["code"] != job.CodePoison || data["error"] == "" {
				t.Fatalf("poison document failed with %v", data)
			}
			poison++
		}
	}
	if starts != job.PoisonAfter || poison != 1 {
		t.Fatalf("poison row: %d starts (want %d, one per death) and %d poison failures (want 1)", starts, job.PoisonAfter, poison)
	}
	// The process that quarantined it is still up and serves new work.
	next := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": []any{
		map[string]any{"file_path": "tiny.pdf", "title": "after"}}, "config": cfg}, 200)["job_id"].(string)
	if st := e.waitStatus(u, next, 30*time.Second, "completed", "failed"); st["status"] != "completed" {
		t.Fatalf("a job after the quarantine: %v", st)
	}
}
