package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/testenv"
)

// serve refuses TAGSTREAM_NATS_LISTEN without credentials, before it opens
// anything, and says which variables to set.
func TestServeRefusesAnAnonymousNATSListener(t *testing.T) {
	for _, k := range []string{"TAGSTREAM_NATS_USER", "TAGSTREAM_NATS_PASSWORD", "TAGSTREAM_NATS_CREDS", "TAGSTREAM_NATS_URL"} {
		t.Setenv(k, "")
	}
	t.Setenv("TAGSTREAM_NATS_LISTEN", "127.0.0.1:0")
	t.Setenv("TAGSTREAM_DATA_DIR", t.TempDir())
	t.Setenv("TAGSTREAM_ADDR", "127.0.0.1:0")
	var o, e bytes.Buffer
	root := newRootCmd(&o, &e)
	root.SetArgs([]string{"serve"})
	err := root.ExecuteContext(context.Background())
	if err == nil || exitCodeOf(err) != 1 || !strings.Contains(err.Error(), "TAGSTREAM_NATS_USER") ||
		!strings.Contains(err.Error(), "TAGSTREAM_NATS_CREDS") {
		t.Fatalf("serve with an anonymous listener: %v", err)
	}
}

// An API process whose embedded NATS listens behind a password (its own
// in-process connection authenticates too): anonymous and wrong-password
// clients are refused, a worker process with the wrong password stops with
// the reason, and a worker process with the right one does the job.
func TestNATSListenerAuthenticatesWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("process test skipped in -short mode")
	}
	root := testenv.Corpus(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := ln.Addr().String()
	ln.Close()
	const apiKey = "sk-nats-auth-5151"
	llm := llmfake.New(t, llmfake.Options{Latency: time.Millisecond, Key: apiKey})
	cfg := testConfig(t)
	cfg.NatsListen = natsAddr
	cfg.SecretsKey = newSecretsKey(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api, err := openApp(ctx, cfg, roles{api: true}, nil, testLogger())
	if err != nil {
		t.Fatalf("API with an authenticated embedded NATS: %v", err)
	}
	apiLn, _ := net.Listen("tcp", "127.0.0.1:0")
	apiDone := make(chan error, 1)
	go func() { apiDone <- api.run(ctx, apiLn) }()
	defer func() { cancel(); <-apiDone }()

	url := "nats://" + natsAddr
	for name, opts := range map[string][]nats.Option{
		"anonymous":      nil,
		"wrong password": {nats.UserInfo(cfg.NatsUser, "not-the-password")},
		"unknown user":   {nats.UserInfo("mallory", cfg.NatsPassword)},
	} {
		nc, err := nats.Connect(url, append(opts, nats.Timeout(5*time.Second))...)
		if err == nil {
			nc.Close()
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s client: %v, want an authorization violation", name, err)
		}
	}

	common := []string{"TAGSTREAM_NATS_URL=" + url, "TAGSTREAM_SECRETS_KEY=" + cfg.SecretsKey,
		"TAGSTREAM_LOCAL_ROOT=" + root, "TAGSTREAM_LLM_BASE_URL=" + llm.BaseURL(), "TAGSTREAM_WORKERS=2",
		"TAGSTREAM_NATS_USER=" + cfg.NatsUser, "TAGSTREAM_NATS_LISTEN="}
	bad := startProcess(t, "worker", t.TempDir(), append(common, "TAGSTREAM_NATS_PASSWORD=not-the-password")...)
	waitFor(t, "the wrong-password worker gives up", func() bool { return strings.Contains(bad.logText(), "tagstream: ") })
	if !strings.Contains(strings.ToLower(bad.logText()), "authorization") {
		t.Fatalf("wrong-password worker said:\n%s", bad.logText())
	}
	if err := bad.cmd.Wait(); err == nil {
		t.Fatal("wrong-password worker exited 0")
	}

	good := startProcess(t, "worker", t.TempDir(), append(common, "TAGSTREAM_NATS_PASSWORD="+cfg.NatsPassword)...)
	e := &env{t: t, url: "http://" + apiLn.Addr().String(), app: api}
	u := e.register("alice@example.com")
	job := e.mustCall("POST", "/api/batch/start", u.token, localJob(6, apiKey), 200)["job_id"].(string)
	e.waitStatus(u, job, 60*time.Second, "completed")
	_, byActor := checkExactlyOnce(t, e, u, job, 6)
	if len(byActor) != 1 {
		t.Fatalf("outcomes by actor %v: want all from the one worker process\n%s", byActor, good.logText())
	}
}
