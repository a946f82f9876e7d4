package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEventsExportVerifyAndTamper(t *testing.T) {
	cfg := testConfig(t)
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("alice@example.com")
	job := e.startJob(u, 3, nil)
	e.waitStatus(u, job, 20*time.Second, "completed")
	e.shutdown()

	out := filepath.Join(t.TempDir(), "trail.ndjson")
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"events", "export", "--job", job, "--out", out, "--data-dir", cfg.DataDir})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("export: %v %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "exported ") {
		t.Fatalf("export said: %s", stderr.String())
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
	tampered := filepath.Join(t.TempDir(), "tampered.ndjson")
	_ = os.WriteFile(tampered, []byte(strings.Replace(string(raw), `"tag Doc 1"`, `"tag Doc X"`, 1)), 0o600)
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
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	natsAddr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t)
	cfg.NatsListen = natsAddr
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("alice@example.com")
	first := e.startJob(u, 1, nil)
	e.waitStatus(u, first, 20*time.Second, "completed")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		root := newRootCmd(&out, &out)
		root.SetArgs([]string{"events", "tail", "--nats-url", "nats://" + natsAddr, "--data-dir", t.TempDir()})
		done <- root.ExecuteContext(ctx)
	}()
	time.Sleep(500 * time.Millisecond) // tail starts at the end of the log
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
