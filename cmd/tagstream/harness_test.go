package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/internal/natsx"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/services/pipeline"
)

// tb is what the harness needs from tests and benchmarks alike.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
	Fatal(args ...any)
	Errorf(format string, args ...any)
	Error(args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Name() string
}

// env is one in-process Tagstream (real embedded JetStream in a temp dir,
// real HTTP) with a tagger chosen by the test.
type env struct {
	t    tb
	cfg  config
	app  *app
	url  string
	stop context.CancelFunc
	done chan error
}

func testConfig(t *testing.T) config {
	return config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Workers: 4, LLMBaseURL: "http://127.0.0.1:1/v1",
		MaxDocuments: 10000, ExportRows: 100000, DocTimeout: 30 * time.Second, AckWait: 3 * time.Second, ShutdownGrace: time.Second, LogLevel: "error",
		AdminEmails: "admin@example.com", AuditorEmails: "auditor@example.com", MaxFetchBytes: 50 << 20,
		// Every test server and client authenticates, as in production.
		NatsUser: testNATSAuth.User, NatsPassword: testNATSAuth.Password,
	}
}

// freeAddr returns a 127.0.0.1 address with a port free a moment ago, for
// a server the test starts itself (a child process, an external NATS):
// below the ephemeral range, so no outgoing connection takes it meanwhile.
func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
}

// startExternalNATS runs a NATS server on a free 127.0.0.1 port, as a
// deployment's external NATS, until the test ends, and returns its URL.
func startExternalNATS(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	ns, err := natsx.StartEmbedded(t.TempDir(), addr, testNATSAuth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return "nats://" + addr
}

// testNATSAuth is what test NATS servers require and test clients present.
var testNATSAuth = natsx.Auth{User: "tagstream-test", Password: "test-nats-password-1"}

func testLogger() *slog.Logger {
	if os.Getenv("TAGSTREAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startEnv runs serve in-process until the test ends.
func startEnv(t *testing.T, cfg config, tagger pipeline.Tagger) *env {
	return startEnvTB(t, cfg, tagger)
}

func startEnvTB(t tb, cfg config, tagger pipeline.Tagger) *env {
	t.Helper()
	return startEnvWithLog(t, cfg, tagger, testLogger())
}

// startEnvWithLog is startEnvTB with the process log going to log.
func startEnvWithLog(t tb, cfg config, tagger pipeline.Tagger, log *slog.Logger) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := openApp(ctx, cfg, roles{api: true, workers: true}, tagger, log)
	if err != nil {
		cancel()
		t.Fatalf("open app: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, app: a, url: "http://" + ln.Addr().String(), stop: cancel, done: make(chan error, 1)}
	go func() { e.done <- a.run(ctx, ln) }()
	t.Cleanup(e.shutdown)
	return e
}

func (e *env) shutdown() {
	if e.stop == nil {
		return
	}
	e.stop()
	select {
	case <-e.done:
	case <-time.After(60 * time.Second):
		e.t.Error("service did not shut down within 60s")
	}
	e.stop = nil
}

// user is a registered, logged-in account.
type user struct {
	id, email, token string
}

func (e *env) register(email string) user {
	e.t.Helper()
	st, body := e.call("POST", "/api/auth/register", "", map[string]any{"email": email, "password": "correct-horse-1"})
	if st != http.StatusCreated {
		e.t.Fatalf("register %s: %d %v", email, st, body)
	}
	// Registering an address grants nothing; the test config's admin and
	// auditor addresses get their role the operator's way (admin bootstrap).
	for list, role := range map[string]auth.Role{e.cfg.AdminEmails: auth.RoleAdmin, e.cfg.AuditorEmails: auth.RoleAuditor} {
		if slices.Contains(splitList(list), strings.ToLower(email)) {
			if _, _, err := e.app.auth.Bootstrap(context.Background(), email, role); err != nil {
				e.t.Fatalf("bootstrap %s: %v", email, err)
			}
		}
	}
	st, body = e.call("POST", "/api/auth/login", "", map[string]any{"email": email, "password": "correct-horse-1"})
	if st != http.StatusOK {
		e.t.Fatalf("login %s: %d %v", email, st, body)
	}
	tokens := body["tokens"].(map[string]any)
	return user{id: body["user"].(map[string]any)["id"].(string), email: email, token: tokens["access_token"].(string)}
}

// call sends a JSON request and decodes a JSON object answer.
func (e *env) call(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out["_raw"] = string(raw)
	}
	return resp.StatusCode, out
}

func (e *env) mustCall(method, path, token string, body any, want int) map[string]any {
	e.t.Helper()
	st, out := e.call(method, path, token, body)
	if st != want {
		e.t.Fatalf("%s %s: status %d, want %d: %v", method, path, st, want, out)
	}
	return out
}

// startJob starts a keyless job over n local documents.
func (e *env) startJob(u user, n int, extra map[string]any) string {
	e.t.Helper()
	docs := make([]map[string]any, n)
	for i := range docs {
		docs[i] = map[string]any{"file_path": fmt.Sprintf("doc-%d.pdf", i), "title": fmt.Sprintf("Doc %d", i)}
	}
	req := map[string]any{"documents": docs, "config": map[string]any{"model_name": "builtin/keywords"}}
	for k, v := range extra {
		req[k] = v
	}
	out := e.mustCall("POST", "/api/batch/start", u.token, req, http.StatusOK)
	return out["job_id"].(string)
}

func (e *env) status(u user, job string) map[string]any {
	e.t.Helper()
	return e.mustCall("GET", "/api/batch/jobs/"+job+"/status", u.token, nil, http.StatusOK)
}

// waitStatus polls until the job reaches one of the statuses.
func (e *env) waitStatus(u user, job string, timeout time.Duration, want ...string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[string]any
	for time.Now().Before(deadline) {
		last = e.status(u, job)
		for _, w := range want {
			if last["status"] == w {
				return last
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("job %s never reached %v; last status %v", job, want, last)
	return nil
}

// history reads the job's events straight from the stream.
func (e *env) history(job string) []events.Envelope {
	e.t.Helper()
	var out []events.Envelope
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.app.store.Read(ctx, events.JobSubjects(job), 1, func(env events.Envelope) error {
		out = append(out, env)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// finalHistory stops the service and then reads the job's events from the
// data dir with a fresh connection: nothing can be appended any more, so
// the history is complete.
func (e *env) finalHistory(job string) []events.Envelope {
	e.t.Helper()
	e.shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := openApp(ctx, e.cfg, roles{}, nil, testLogger())
	if err != nil {
		e.t.Fatalf("reopen the log: %v", err)
	}
	defer a.close()
	var out []events.Envelope
	if err := a.store.Read(ctx, events.JobSubjects(job), 1, func(env events.Envelope) error {
		out = append(out, env)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// fakeTagger is a controllable in-process tagger.
type fakeTagger struct {
	delay   time.Duration
	gate    chan struct{} // when set, each document waits for a token
	fail    func(in pipeline.TagInput) error
	running atomic.Int64
	mu      sync.Mutex
	calls   []pipeline.TagInput
}

func (f *fakeTagger) Tag(ctx context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
	f.running.Add(1)
	defer f.running.Add(-1)
	f.mu.Lock()
	f.calls = append(f.calls, in)
	f.mu.Unlock()
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return pipeline.TagOutput{}, ctx.Err()
		}
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return pipeline.TagOutput{}, ctx.Err()
		}
	}
	if f.fail != nil {
		if err := f.fail(in); err != nil {
			return pipeline.TagOutput{}, err
		}
	}
	return pipeline.TagOutput{Tags: []string{"tag " + in.Document.Title, "fake"},
		Metadata: events.TagMetadata{Method: "text", PagesRead: 1, Model: in.Config.Model}}, nil
}

// setGate replaces the gate for documents that start from now on.
func (f *fakeTagger) setGate(g chan struct{}) {
	f.mu.Lock()
	f.gate = g
	f.mu.Unlock()
}

func (f *fakeTagger) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}
