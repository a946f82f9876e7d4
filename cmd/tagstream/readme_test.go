package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services/pipeline"
)

// readmeBlocks returns the ```sh blocks of the README section titled
// heading, in order.
func readmeBlocks(t *testing.T, heading string) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q section", heading)
	}
	text = text[i+len(heading)+2:]
	if j := strings.Index(text, "\n## "); j >= 0 {
		text = text[:j]
	}
	var blocks []string
	for {
		a := strings.Index(text, "```sh\n")
		if a < 0 {
			return blocks
		}
		text = text[a+6:]
		b := strings.Index(text, "```")
		blocks = append(blocks, text[:b])
		text = text[b+3:]
	}
}

// heldTagger is the production tagger behind a gate: documents wait until
// release is closed, so a test can run "pause" and "cancel" lines while
// the job certainly runs, as a person does with a long job.
type heldTagger struct {
	next    pipeline.Tagger
	release chan struct{}
	once    sync.Once
}

func (h *heldTagger) Tag(ctx context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
		return pipeline.TagOutput{}, ctx.Err()
	}
	return h.next.Tag(ctx, in)
}

// TestREADMEWalkThrough runs the README's walk-through lines with bash,
// curl and python3 against a server started like the README says (the
// sample PDFs as local root, no model key), with every curl failing on an
// HTTP error: each line must succeed from a fresh clone, offline. The
// server's banner line is checked too.
func TestREADMEWalkThrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "python3"} {
		testenv.RequireTool(t, tool)
	}
	blocks := readmeBlocks(t, "## Walk-through with curl")
	if len(blocks) < 2 || !strings.Contains(blocks[0], "TAGSTREAM_LOCAL_ROOT=./examples/docs go run ./cmd/tagstream serve") {
		t.Fatalf("walk-through blocks: %q", blocks)
	}
	script := blocks[1]
	if !strings.HasPrefix(script, "H=http://localhost:8000\n") {
		t.Fatalf("the walk-through no longer starts with H=http://localhost:8000")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.LocalRoot = filepath.Join(root, "examples", "docs")
	cfg.Registration = "open"
	tagger := &heldTagger{next: newTagger(cfg, testLogger()), release: make(chan struct{})}
	e, logs := startEnvLog(t, cfg, tagger)
	// The gate opens once the job is cancelled (the walk-through's cancel
	// line): the documents held until then finish, the retry runs freely.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			jobs, _ := e.app.jobs.List(context.Background(), projections.Filter{})
			for _, j := range jobs {
				if j.Status == events.StatusCancelled {
					tagger.once.Do(func() { close(tagger.release) })
					return
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	// The lines run in a scratch directory holding examples/ (files the
	// walk-through writes, results.csv and stream.txt, land there), with
	// H pointing at the test server and curl failing on any HTTP error.
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(root, "examples"), filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}
	prelude := "set -euo pipefail\ncurl() { command curl --fail-with-body --show-error --max-time 60 \"$@\"; }\n"
	body := "H=" + e.url + "\n" + strings.TrimPrefix(script, "H=http://localhost:8000\n")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", prelude+body+"\necho \"JOB=$JOB\"\n")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s", err, lastBytes(string(out), 3000))
	}
	for _, want := range []string{`"status":"paused"`, `"valid":1`, `"invalid":1`, `Retrying `, `"processed_count":2400`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walk-through output lacks %s", want)
		}
	}
	stream, _ := os.ReadFile(filepath.Join(dir, "stream.txt"))
	if !strings.Contains(string(stream), `"type":"completed"`) {
		t.Errorf("the stream did not end with the completed job: %s", lastBytes(string(stream), 500))
	}
	results, _ := os.ReadFile(filepath.Join(dir, "results.csv"))
	if !strings.HasPrefix(string(results), "row_id,Name,Document URL,file_source_type,description,Dept,") {
		t.Errorf("results.csv header: %.200s", results)
	}
	if !strings.Contains(logs.String(), `"console":"`+e.url+`/"`) || !strings.Contains(logs.String(), `"local_root":"`+cfg.LocalRoot+`"`) {
		t.Errorf("no startup banner with the console URL and local root")
	}
	t.Logf("walk-through output (end):\n%s", lastBytes(string(out), 1500))
}

func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
