package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/testenv"
)

// TestHelperProcess is not a test: crash tests re-run the test binary as a
// real `tagstream serve` process so they can kill it with SIGKILL.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("TAGSTREAM_HELPER_PROCESS") != "1" {
		t.Skip("helper process for crash tests")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := signalContext()
	defer stop()
	os.Exit(run(ctx, args))
}

// child is a `tagstream serve` process.
type child struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func startChild(t *testing.T, dataDir string, env ...string) *child {
	t.Helper()
	return startProcess(t, "serve", dataDir, env...)
}

func (c *child) logText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

func (c *child) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

// remote is an env-like client for a child process.
func remote(t *testing.T, url string) *env { return &env{t: t, url: url} }

func TestKill9MidJobLosesNoDocumentAndCountsNoneTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	root := testenv.Corpus(t)
	const secret = "sk-crash-test-DO-NOT-LOG-4242"
	llm := llmfake.New(t, llmfake.Options{Latency: 60 * time.Millisecond, Key: secret})
	dataDir := t.TempDir()
	envVars := []string{"TAGSTREAM_LOCAL_ROOT=" + root, "TAGSTREAM_LLM_BASE_URL=" + llm.BaseURL(),
		"TAGSTREAM_WORKERS=4", "TAGSTREAM_TASK_ACK_WAIT=2s", "TAGSTREAM_LOG_LEVEL=debug"}
	var logs strings.Builder

	c := startChild(t, dataDir, envVars...)
	e := remote(t, c.url)
	u := e.register("ops@example.com")
	files := []string{"circular-water.pdf", "tender-notice.pdf", "groff-report.pdf", "texlive-lppl.pdf"}
	const total = 80
	docs := make([]any, total)
	for i := range docs {
		docs[i] = map[string]any{"file_path": files[i%len(files)], "title": fmt.Sprintf("doc %d", i)}
	}
	start := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"api_key": secret, "model_name": "openai/gpt-4o-mini", "num_tags": 5, "cache": false}}, 200)
	job := start["job_id"].(string)

	for round := 1; round <= 3; round++ {
		target := float64(round * 12)
		waitFor(t, "progress before the kill", func() bool {
			st := e.status(u, job)
			return st["processed_count"].(float64)+st["failed_count"].(float64) >= target
		})
		c.kill9(t)
		logs.WriteString(c.logText())
		c = startChild(t, dataDir, envVars...)
		e.url = c.url
	}
	// The token issued before the crashes still works: the key is on disk.
	final := e.waitStatus(u, job, 90*time.Second, "completed", "failed")
	logs.WriteString(c.logText())
	if final["status"] != "completed" || final["processed_count"].(float64) != total || final["failed_count"].(float64) != 0 {
		t.Fatalf("after 3 kills: %v", final)
	}
	// Every document has exactly one outcome in the log, and the counts
	// agree with the results.
	evs := e.mustCall("GET", "/api/batch/jobs/"+job+"/events?limit=10000", u.token, nil, 200)["events"].([]any)
	outcomes := map[float64]int{}
	starts := 0
	for _, raw := range evs {
		ev := raw.(map[string]any)
		data := ev["data"].(map[string]any)
		switch ev["type"] {
		case events.TypeDocumentTagged, events.TypeDocumentFailed:
			outcomes[data["row"].(float64)]++
		case events.TypeDocumentStarted:
			starts++
		}
	}
	if len(outcomes) != total {
		t.Fatalf("%d documents have outcomes, want %d", len(outcomes), total)
	}
	for row, n := range outcomes {
		if n != 1 {
			t.Errorf("row %v has %d outcomes", row, n)
		}
	}
	rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results?limit=1000", u.token, nil, 200)["results"].([]any)
	for _, r := range rows {
		if r.(map[string]any)["status"] != "success" {
			t.Errorf("row not successful: %v", r)
		}
	}
	t.Logf("%d documents, %d starts (restarted ones start twice), %d LLM calls", total, starts, llm.Calls())
	if llm.BadKeys() != 0 {
		t.Errorf("%d LLM calls carried a wrong key", llm.BadKeys())
	}

	// The job's key reached the model but never the log, the logs or any
	// file in the data dir (the secret store holds it encrypted, then
	// purges it when the job ends).
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	_ = c.cmd.Wait()
	logs.WriteString(c.logText())
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the API key appears in the service logs")
	}
	raw, _ := json.Marshal(evs)
	if bytes.Contains(raw, []byte(secret)) {
		t.Fatal("the API key appears in the audit trail")
	}
	scanned, sawJobID := 0, false
	err := filepath.Walk(dataDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned += len(b)
		sawJobID = sawJobID || bytes.Contains(b, []byte(job))
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the API key appears in plain text in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 10000 || !sawJobID {
		t.Fatalf("scanned %d bytes of store files without seeing the job id in plain text; the scan proves nothing", scanned)
	}
}
