package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/natsx"
)

func TestEventsExportVerifyAndTamper(t *testing.T) {
	cfg := testConfig(t)
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("alice@example.com")
	job := e.startJob(u, 3, nil)
	e.waitStatus(u, job, 20*time.Second, "completed")
	e.shutdown()

	out, said := exportTo(t, cfg, job)
	if !strings.Contains(said, "exported ") {
		t.Fatalf("export said: %s", said)
	}
	verify := func(path string) error {
		var o, e bytes.Buffer
		r := newRootCmd(&o, &e)
		r.SetArgs([]string{"events", "verify", path})
		return r.ExecuteContext(context.Background())
	}
	if err := verify(out); err != nil {
		t.Fatalf("verify untouched export: %v", err)
	}
	raw, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) < 8 {
		t.Fatalf("export has %d lines", len(lines))
	}
	var trailer struct {
		Trailer *struct {
			Events    int    `json:"events"`
			FinalHash string `json:"final_hash"`
		} `json:"trailer"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &trailer); err != nil || trailer.Trailer == nil ||
		trailer.Trailer.Events != len(lines)-1 || !strings.Contains(said, trailer.Trailer.FinalHash) {
		t.Fatalf("last line is not a trailer with the count and the printed hash: %q (stderr %q)", lines[len(lines)-1], said)
	}
	final := trailer.Trailer.FinalHash
	write := func(content string) string {
		p := filepath.Join(t.TempDir(), "cut.ndjson")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	verifyExpect := func(path, hash string) error {
		var o, e bytes.Buffer
		r := newRootCmd(&o, &e)
		r.SetArgs([]string{"events", "verify", path, "--expect", hash})
		return r.ExecuteContext(context.Background())
	}
	if err := verifyExpect(out, final); err != nil {
		t.Fatalf("verify --expect with the printed hash: %v", err)
	}
	if err := verifyExpect(out, strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "expected") {
		t.Fatalf("verify --expect with another hash: %v", err)
	}
	// Cut off after the last event: no trailer.
	if err := verify(write(strings.Join(lines[:len(lines)-1], "\n") + "\n")); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("export without its trailer: %v", err)
	}
	// Cut in the middle of a line.
	if err := verify(write(string(raw[:len(raw)/2]))); err == nil {
		t.Fatal("export cut mid-line verified")
	}
	// Last events dropped, trailer kept: the chain still links, the count does not.
	kept := append(append([]string{}, lines[:len(lines)-3]...), lines[len(lines)-1])
	if err := verify(write(strings.Join(kept, "\n") + "\n")); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("export with its tail cut and trailer kept: %v", err)
	}
	tampered := filepath.Join(t.TempDir(), "tampered.ndjson")
	// Document data is sealed in the export: alter the counts instead.
	_ = os.WriteFile(tampered, []byte(strings.Replace(string(raw), `"processed":3`, `"processed":4`, 1)), 0o600)
	if err := verify(tampered); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("tampered export: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEventsTailFollowsALiveServer(t *testing.T) {
	natsAddr := freeAddr(t)
	cfg := testConfig(t)
	cfg.NatsListen = natsAddr
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("alice@example.com")
	first := e.startJob(u, 1, nil)
	e.waitStatus(u, first, 20*time.Second, "completed")

	consumers := streamConsumers(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		root := newRootCmd(&out, &out)
		root.SetArgs([]string{"events", "tail", "--nats-url", "nats://" + natsAddr, "--data-dir", t.TempDir(),
			"--nats-user", cfg.NatsUser, "--nats-password", cfg.NatsPassword})
		done <- root.ExecuteContext(ctx)
	}()
	// tail starts at the end of the log: the next job must begin only
	// once tail follows the stream, i.e. its consumer exists.
	waitFor(t, "tail following the log", func() bool { return streamConsumers(t, e) > consumers })
	job := e.startJob(u, 2, nil)
	e.waitStatus(u, job, 20*time.Second, "completed")
	waitFor(t, "tail prints JobCompleted", func() bool { return strings.Contains(out.String(), `"JobCompleted"`) })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if m["job_id"] == first {
			t.Fatalf("tail printed an event from before it started: %v", m)
		}
	}
}

// Operator commands pointed at a data dir without a log refuse with exit 1
// and create nothing there.
func TestOperatorCommandsRefuseADataDirWithoutALog(t *testing.T) {
	empty := t.TempDir()
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	for _, args := range [][]string{
		{"events", "export"},
		{"events", "tail", "--all"},
		{"projections", "rebuild"},
	} {
		for _, dir := range []string{empty, missing} {
			var o, e bytes.Buffer
			root := newRootCmd(&o, &e)
			out := filepath.Join(t.TempDir(), "x.ndjson")
			a := append(append([]string{}, args...), "--data-dir", dir)
			if args[1] == "export" {
				a = append(a, "--out", out)
			}
			root.SetArgs(a)
			err := root.ExecuteContext(context.Background())
			if err == nil || exitCodeOf(err) != 1 || !strings.Contains(err.Error(), "no event log") {
				t.Fatalf("%v on %s: %v (want exit 1, no event log)", args, dir, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "jetstream")); err == nil {
				t.Fatalf("%v created a store in %s", args, dir)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("%v left an export file behind", args)
			}
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("an operator command created the missing data dir")
	}
}

// Secrets given through the environment do not show in --help, and
// operator commands list only their own flags.
func TestHelpShowsNoSecretsAndOperatorCommandsOnlyTheirFlags(t *testing.T) {
	secrets := map[string]string{
		"TAGSTREAM_LLM_API_KEY":        "sk-help-leak-1111",
		"TAGSTREAM_SECRETS_KEY":        "c2VjcmV0cy1rZXktaGVscC1sZWFrLTIyMjIyMjIyMjI=",
		"TAGSTREAM_NATS_PASSWORD":      "nats-help-leak-3333",
		"TAGSTREAM_WEBHOOK_SECRET":     "whsec_aGVscC1sZWFrLXdlYmhvb2stc2VjcmV0LTQ0NDQ0NA==",
		"TAGSTREAM_OIDC_CLIENT_SECRET": "oidc-help-leak-5555",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	help := func(args ...string) string {
		var o, e bytes.Buffer
		root := newRootCmd(&o, &e)
		root.SetArgs(append(args, "--help"))
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("%v --help: %v", args, err)
		}
		return o.String() + e.String()
	}
	for _, cmd := range [][]string{{"serve"}, {"worker"}, {"events", "export"}, {"events", "tail"}, {"events", "verify"}, {"projections", "rebuild"}} {
		text := help(cmd...)
		for k, v := range secrets {
			if strings.Contains(text, v) {
				t.Errorf("%v --help shows %s", cmd, k)
			}
		}
	}
	if text := help("serve"); !strings.Contains(text, "--llm-api-key") || !strings.Contains(text, "--workers") {
		t.Fatalf("serve --help lost its flags:\n%s", text)
	}
	for _, cmd := range [][]string{{"events", "export"}, {"events", "tail"}, {"projections", "rebuild"}} {
		text := help(cmd...)
		for _, server := range []string{"--workers", "--llm-api-key", "--addr", "--secrets-key", "--admin-emails", "--start-rate"} {
			if strings.Contains(text, server) {
				t.Errorf("%v --help lists the server flag %s", cmd, server)
			}
		}
		if !strings.Contains(text, "--data-dir") || !strings.Contains(text, "--nats-url") {
			t.Errorf("%v --help lacks --data-dir/--nats-url:\n%s", cmd, text)
		}
	}
}

// Against a NATS server that holds no events stream, operator commands
// refuse and do not create one.
func TestOperatorCommandsRefuseANATSWithoutALog(t *testing.T) {
	url := startExternalNATS(t)
	for _, args := range [][]string{{"events", "export"}, {"projections", "rebuild"}} {
		var o, e bytes.Buffer
		root := newRootCmd(&o, &e)
		root.SetArgs(append(args, "--nats-url", url, "--nats-user", testNATSAuth.User, "--nats-password", testNATSAuth.Password))
		err := root.ExecuteContext(context.Background())
		if err == nil || exitCodeOf(err) != 1 || !strings.Contains(err.Error(), "no event log") {
			t.Fatalf("%v against a NATS without the stream: %v", args, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := natsx.Connect(ctx, natsx.Config{URL: url, Auth: testNATSAuth})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.JS.Stream(ctx, events.Stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the events stream exists after the refused commands: %v", err)
	}
}

// streamConsumers is how many consumers the event stream has now.
func streamConsumers(t *testing.T, e *env) int {
	t.Helper()
	st, err := e.app.conn.JS.Stream(context.Background(), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}
