package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/webhook"
)

var errStop = errors.New("stop")

// hookReceiver is a real HTTP receiver of webhooks that checks each
// delivery's Standard Webhooks signature with the server's secret.
type hookReceiver struct {
	url string
	key []byte
	ch  chan hookDelivery
	// fail is how many of the next deliveries get a 503.
	fail atomic.Int32
}

type hookDelivery struct {
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	r := &hookReceiver{key: key, ch: make(chan hookDelivery, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.ch <- hookDelivery{req.Header.Clone(), b}
		if r.fail.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// next waits for a delivery, verifies its signature and returns its body.
func (r *hookReceiver) next(t *testing.T) (hookDelivery, map[string]any) {
	t.Helper()
	var d hookDelivery
	select {
	case d = <-r.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook arrived")
	}
	mac := hmac.New(sha256.New, r.key)
	fmt.Fprintf(mac, "%s.%s.%s", d.header.Get("webhook-id"), d.header.Get("webhook-timestamp"), d.body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); d.header.Get("webhook-signature") != want {
		t.Fatalf("signature %q does not verify", d.header.Get("webhook-signature"))
	}
	var p map[string]any
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	return d, p
}

// none fails if a delivery is waiting.
func (r *hookReceiver) none(t *testing.T) {
	t.Helper()
	select {
	case d := <-r.ch:
		t.Fatalf("unexpected webhook %s", d.body)
	default:
	}
}

// hookAttempts follows the job's hook subject to its first n recorded
// attempts (each appended after its delivery).
func (e *env) hookAttempts(job string, n int) []*events.WebhookAttempted {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*events.WebhookAttempted
	err := e.app.store.Follow(ctx, events.HookSubject(job), 1, func(env events.Envelope) error {
		ev, err := env.Decode()
		if err != nil {
			return err
		}
		out = append(out, ev.(*events.WebhookAttempted))
		if len(out) == n {
			return errStop
		}
		return nil
	})
	if err != errStop {
		e.t.Fatalf("%d of %d webhook attempts recorded for %s: %v", len(out), n, job, err)
	}
	return out
}

// firstAttempt is the job's first recorded webhook attempt.
func (e *env) firstAttempt(job string) *events.WebhookAttempted { return e.hookAttempts(job, 1)[0] }

// hookEnv is a server that signs webhooks with a new secret and may send
// them to loopback addresses, and a receiver that verifies them.
func hookEnv(t *testing.T) (*env, *hookReceiver, string) {
	t.Helper()
	secret := webhook.NewSecret()
	recv := newHookReceiver(t, secret)
	cfg := testConfig(t)
	cfg.WebhookSecret, cfg.AllowPrivate = secret, true
	return startEnv(t, cfg, &fakeTagger{}), recv, secret
}

// A job with a callback_url ends with one signed, thin job.completed
// webhook that a receiver verifies the Standard Webhooks way; its attempt
// is in the job's events and the secret is not; a bad callback_url is a
// 400 naming config.callback_url.
func TestJobCompletedWebhookEndToEnd(t *testing.T) {
	e, recv, secret := hookEnv(t)
	u := e.register("hooks@example.com")
	docs := []map[string]any{{"file_path": "doc-0.pdf", "title": "Secret title"}}

	st, out := e.call("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"model_name": "builtin/keywords", "callback_url": "ftp://example.org/x"}})
	if st != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out), "config.callback_url") {
		t.Fatalf("bad callback_url: %d %v", st, out)
	}

	out = e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"model_name": "builtin/keywords", "callback_url": recv.url + "/hook"}}, http.StatusOK)
	job := out["job_id"].(string)
	e.waitStatus(u, job, 30*time.Second, "completed")

	d, p := recv.next(t)
	if p["type"] != "job.completed" || p["job_id"] != job || p["status"] != "completed" || len(p) != 4 {
		t.Fatalf("body %s", d.body)
	}
	if strings.Contains(string(d.body), "Secret title") {
		t.Fatal("the webhook is not thin")
	}

	if attempt := e.firstAttempt(job); !attempt.Delivered || attempt.Attempt != 1 || attempt.Kind != "job.completed" {
		t.Fatalf("attempt %+v", attempt)
	}
	for _, env := range e.history(job) {
		if strings.Contains(string(env.Data), strings.TrimPrefix(secret, "whsec_")) {
			t.Fatalf("secret in %s", env.Type)
		}
	}
	if s := e.status(u, job); s["status"] != "completed" {
		t.Fatalf("status after the webhook: %v", s)
	}
}

// A callback URL's path and query are often the receiver's credential; the
// job's audit trail, read by auditors too, shows its scheme and host only.
func TestJobEventsShowOnlyTheCallbackHost(t *testing.T) {
	e, recv, _ := hookEnv(t)
	u := e.register("hooks@example.com")
	out := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{
		"documents": []map[string]any{{"file_path": "doc-0.pdf"}},
		"config":    map[string]any{"model_name": "builtin/keywords", "callback_url": recv.url + "/T0K3N-path/hook?token=s3cr3t-query"}}, http.StatusOK)
	job := out["job_id"].(string)
	e.waitStatus(u, job, 30*time.Second, "completed")

	body := e.mustCall("GET", "/api/batch/jobs/"+job+"/events?scope=job", u.token, nil, http.StatusOK)
	raw, _ := json.Marshal(body)
	if strings.Contains(string(raw), "T0K3N-path") || strings.Contains(string(raw), "s3cr3t-query") {
		t.Fatalf("the callback URL's path or query is in the job's events: %s", raw)
	}
	started := body["events"].([]any)[0].(map[string]any)
	if started["type"] != events.TypeJobStarted {
		t.Fatalf("first job event %v", started["type"])
	}
	shown := started["data"].(map[string]any)["config"].(map[string]any)["callback_url"]
	if want := recv.url + "/…"; shown != want {
		t.Fatalf("callback_url shown as %v, want %s", shown, want)
	}
	// The log itself keeps the URL: the webhook still goes there.
	for _, env := range e.history(job) {
		if env.Type == events.TypeJobStarted && !strings.Contains(string(env.Data), "s3cr3t-query") {
			t.Fatalf("stored JobStarted lost its callback URL: %s", env.Data)
		}
	}
}
