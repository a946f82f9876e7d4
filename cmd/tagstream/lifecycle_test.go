package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/secrets"
	"github.com/tagstream/tagstream/internal/testenv"
)

func TestSIGTERMFinishesOrReleasesInFlightDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("process test skipped in -short mode")
	}
	root := testenv.Corpus(t)
	llm := llmfake.New(t, llmfake.Options{Latency: 400 * time.Millisecond})
	dataDir := t.TempDir()
	envVars := []string{"TAGSTREAM_LOCAL_ROOT=" + root, "TAGSTREAM_LLM_BASE_URL=" + llm.BaseURL(),
		"TAGSTREAM_WORKERS=4", "TAGSTREAM_TASK_ACK_WAIT=2s", "TAGSTREAM_SHUTDOWN_GRACE=3s"}
	c := startChild(t, dataDir, envVars...)
	e := remote(t, c.url)
	u := e.register("ops@example.com")
	docs := make([]any, 24)
	for i := range docs {
		docs[i] = map[string]any{"file_path": "circular-water.pdf", "title": fmt.Sprintf("doc %d", i)}
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"api_key": "sk-graceful", "model_name": "openai/gpt-4o-mini", "cache": false}}, 200)["job_id"].(string)
	waitFor(t, "documents in flight", func() bool { return llm.Calls() >= 4 })

	start := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("serve did not exit cleanly on SIGTERM: %v\n%s", err, c.logText())
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(c.logText(), "shutting down") {
		t.Fatalf("no shutdown log line:\n%s", c.logText())
	}

	c = startChild(t, dataDir, envVars...)
	e.url = c.url
	st := e.waitStatus(u, job, 60*time.Second, "completed")
	if st["processed_count"].(float64) != 24 {
		t.Fatalf("after restart: %v", st)
	}
	evs := e.mustCall("GET", "/api/batch/jobs/"+job+"/events?limit=10000", u.token, nil, 200)["events"].([]any)
	outcomes := map[float64]int{}
	for _, raw := range evs {
		ev := raw.(map[string]any)
		if ev["type"] == "DocumentTagged" || ev["type"] == "DocumentFailed" {
			outcomes[ev["data"].(map[string]any)["row"].(float64)]++
		}
	}
	for row, n := range outcomes {
		if n != 1 {
			t.Errorf("row %v has %d outcomes", row, n)
		}
	}
	if len(outcomes) != 24 {
		t.Fatalf("%d rows with outcomes", len(outcomes))
	}
}

func TestAuthOverHTTP(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	e.mustCall("POST", "/api/auth/register", "", map[string]any{"email": "Ana@Example.com", "password": "long-enough-1", "full_name": "Ana"}, 201)
	login := e.mustCall("POST", "/api/auth/login", "", map[string]any{"email": "ana@example.com", "password": "long-enough-1"}, 200)
	tokens := login["tokens"].(map[string]any)
	if tokens["token_type"] != "bearer" || tokens["expires_in"].(float64) <= 0 || login["user"].(map[string]any)["role"] != "user" {
		t.Fatalf("login: %v", login)
	}
	access, refresh := tokens["access_token"].(string), tokens["refresh_token"].(string)
	if me := e.mustCall("GET", "/api/auth/me", access, nil, 200); me["email"] != "ana@example.com" || me["password_hash"] != nil {
		t.Fatalf("me: %v", me)
	}
	rotated := e.mustCall("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": refresh}, 200)
	e.mustCall("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": refresh}, 401) // used once only
	e.mustCall("GET", "/api/auth/me", rotated["access_token"].(string), nil, 200)
	e.mustCall("GET", "/api/auth/me", refresh, nil, 401) // a refresh token is not an access token
	e.mustCall("POST", "/api/auth/logout", "", map[string]any{"refresh_token": rotated["refresh_token"]}, 200)
	e.mustCall("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": rotated["refresh_token"]}, 401)
	jwks := e.mustCall("GET", "/.well-known/jwks.json", "", nil, 200)
	keys := jwks["keys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["d"] != nil || keys[0].(map[string]any)["kty"] != "EC" {
		t.Fatalf("jwks: %v", jwks)
	}
	// Nothing secret comes back in any of those answers.
	for _, body := range []map[string]any{login, rotated} {
		if strings.Contains(fmt.Sprint(body), "long-enough-1") {
			t.Fatal("password echoed")
		}
	}
}

func TestJobKeyIsPurgedWhenTheJobEnds(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("alice@example.com")
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{
		"documents": []any{map[string]any{"file_path": "a.pdf"}},
		"config":    map[string]any{"api_key": "sk-purge-me", "model_name": "openai/gpt-4o-mini"}}, 200)["job_id"].(string)
	e.waitStatus(u, job, 20*time.Second, "completed")
	waitFor(t, "key purged", func() bool {
		_, err := e.app.secrets.Get(context.Background(), job+".1")
		return errors.Is(err, secrets.ErrNotFound)
	})
	tagger := e.app.tagger.(*fakeTagger)
	tagger.mu.Lock()
	got := tagger.calls[0].APIKey
	tagger.mu.Unlock()
	if got != "sk-purge-me" {
		t.Fatalf("the tagger got key %q", got)
	}
}

func TestExtractCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	water := testenv.CorpusFile(t, "circular-water.pdf")
	locked := testenv.CorpusFile(t, "groff-report-password.pdf")
	root := newRootCmd(&out, &errOut)
	root.SetArgs([]string{"extract", "--pages", "2", "--meta", water})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("extract of a corpus PDF: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "Jal Jeevan Mission") || !strings.Contains(errOut.String(), "pages read 2 of 2") {
		t.Fatalf("extract printed %q / %q", out.String(), errOut.String())
	}
	root = newRootCmd(&out, &errOut)
	root.SetArgs([]string{"extract", locked})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "password protected") {
		t.Fatalf("password file: %v", err)
	}
}
