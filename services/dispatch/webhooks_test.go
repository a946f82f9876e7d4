package dispatch_test

import (
	"bytes"
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
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/webhook"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// checkSignature is the Standard Webhooks verification, written here from
// the specification rather than taken from package webhook.
func checkSignature(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("signature does not verify")
}

type delivery struct {
	header http.Header
	body   []byte
}

// receiver answers 500 to its first `failures` requests, then 204.
type receiver struct {
	mu       sync.Mutex
	failures int
	got      []delivery
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, delivery{r.Header.Clone(), b})
	if len(rc.got) <= rc.failures {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func startWithCallback(t *testing.T, r *dispatch.Rig, url string, allowPrivate bool) services.StartResult {
	t.Helper()
	res, err := services.NewStartJobHandler(r.Store, r.Secrets, 100, false).WithCallbacks(true, allowPrivate).Handle(r.Ctx, services.StartJob{
		Caller:    r.Caller("u1"),
		Documents: []map[string]any{{"file_path": "a.pdf"}},
		Config:    services.StartConfig{Model: services.KeywordsModel, CallbackURL: url},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func cancelJob(t *testing.T, r *dispatch.Rig, jobID string) uint64 {
	t.Helper()
	_, err := services.NewChangeJobHandler(r.Store).Handle(r.Ctx, services.ChangeJob{JobID: jobID, Action: "cancel",
		Reason: "enough", Caller: r.Caller("u1")})
	if err != nil {
		t.Fatal(err)
	}
	last, err := r.Store.Last(r.Ctx, events.ControlSubject(jobID))
	if err != nil {
		t.Fatal(err)
	}
	return last.Seq
}

// hookAttempts follows the job's hook subject until n attempts are stored.
func hookAttempts(t *testing.T, r *dispatch.Rig, jobID string, n int) []events.WebhookAttempted {
	t.Helper()
	var out []events.WebhookAttempted
	errDone := errors.New("done")
	err := r.Store.Follow(r.Ctx, events.HookSubject(jobID), 1, func(env events.Envelope) error {
		ev, err := env.Decode()
		if err != nil {
			return err
		}
		out = append(out, *ev.(*events.WebhookAttempted))
		if len(out) == n {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("waiting for %d attempts, got %d: %v", n, len(out), err)
	}
	return out
}

func TestWebhookRetriedUntilDelivered(t *testing.T) {
	r := newRig(t)
	secretText := webhook.NewSecret()
	secret, err := webhook.ParseSecret(secretText)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{failures: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sender := webhook.NewSender(webhook.Config{Secret: secret, AllowPrivate: true})
	r.Go(dispatch.NewWebhooks(r.Conn.JS, r.Store, sender, dispatch.WebhookConfig{Base: 20 * time.Millisecond}, r.Log).Run)

	job := startWithCallback(t, r, srv.URL+"/hooks?token=t0k", true)
	seq := cancelJob(t, r, job.JobID)
	got := hookAttempts(t, r, job.JobID, 3)
	for i, a := range got {
		if a.EventSeq != seq || a.Attempt != i+1 || a.Kind != "job.cancelled" || a.WebhookID == "" || a.WebhookID != got[0].WebhookID {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
		if i < 2 && (a.Delivered || a.StatusCode != 500 || a.Error == "" || a.NextAt == nil) {
			t.Errorf("failed attempt %d: %+v", i+1, a)
		}
	}
	if last := got[2]; !last.Delivered || last.StatusCode != 204 || last.Error != "" || last.NextAt != nil {
		t.Errorf("last attempt: %+v", last)
	}

	rc.mu.Lock()
	deliveries := append([]delivery(nil), rc.got...)
	rc.mu.Unlock()
	if len(deliveries) != 3 {
		t.Fatalf("receiver got %d deliveries, want 3", len(deliveries))
	}
	for _, d := range deliveries {
		if err := checkSignature(secretText, d.header, d.body); err != nil {
			t.Fatal(err)
		}
		if d.header.Get("webhook-id") != got[0].WebhookID {
			t.Errorf("webhook-id %q, want %q on every attempt", d.header.Get("webhook-id"), got[0].WebhookID)
		}
		var p map[string]any
		if err := json.Unmarshal(d.body, &p); err != nil {
			t.Fatal(err)
		}
		if p["type"] != "job.cancelled" || p["job_id"] != job.JobID || p["status"] != "cancelled" || len(p) != 4 {
			t.Errorf("body %s", d.body)
		}
	}

	// Readers of job state ignore the hook subject.
	state, err := jobpkg.LoadFull(r.Ctx, r.Store, job.JobID)
	if err != nil || state.Status != events.StatusCancelled || state.Skipped != 0 {
		t.Fatalf("job state after webhook attempts: %+v, %v", state, err)
	}

	// The secret appears in no stored event.
	key := strings.TrimPrefix(secretText, "whsec_")
	err = r.Store.Read(r.Ctx, events.SubjectAll, 1, func(env events.Envelope) error {
		raw, _ := json.Marshal(env)
		if bytes.Contains(raw, []byte(key)) || bytes.Contains(raw, []byte(secretText)) {
			return fmt.Errorf("secret in event %s at seq %d", env.Type, env.Seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWebhookToPrivateAddressRefused(t *testing.T) {
	r := newRig(t)
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	rc := &receiver{}
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	sender := webhook.NewSender(webhook.Config{Secret: secret}) // private addresses not allowed
	// A horizon shorter than the first backoff: one attempt, then given up.
	r.Go(dispatch.NewWebhooks(r.Conn.JS, r.Store, sender, dispatch.WebhookConfig{Base: time.Hour, Horizon: time.Minute}, r.Log).Run)

	// A host name passes the start check; its address is refused at dial.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/hook"
	job := startWithCallback(t, r, url, false)
	cancelJob(t, r, job.JobID)
	got := hookAttempts(t, r, job.JobID, 1)[0]
	if got.Delivered || got.StatusCode != 0 || !strings.Contains(got.Error, "refused") || got.NextAt != nil {
		t.Fatalf("attempt: %+v", got)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 0 {
		t.Fatalf("the private receiver was reached %d times", len(rc.got))
	}
}

func TestWebhookForSystemPauseNotUserPauseNorWithoutCallback(t *testing.T) {
	r := newRig(t)
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sender := webhook.NewSender(webhook.Config{Secret: secret, AllowPrivate: true})
	r.Go(dispatch.NewWebhooks(r.Conn.JS, r.Store, sender, dispatch.WebhookConfig{Base: 20 * time.Millisecond}, r.Log).Run)

	plain := r.Start(t, "u1", 1, services.StartConfig{})
	cancelJob(t, r, plain.JobID)
	hooked := startWithCallback(t, r, srv.URL, true)
	who := r.Caller("u1")
	if _, err := services.NewChangeJobHandler(r.Store).Handle(r.Ctx, services.ChangeJob{JobID: hooked.JobID, Action: "pause", Caller: who}); err != nil {
		t.Fatal(err)
	}
	if _, err := services.NewChangeJobHandler(r.Store).Handle(r.Ctx, services.ChangeJob{JobID: hooked.JobID, Action: "resume", Caller: who}); err != nil {
		t.Fatal(err)
	}
	// The system pauses the job as a worker does when the model is unreachable.
	state, err := jobpkg.Load(r.Ctx, r.Store, hooked.JobID, 0)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := events.New(hooked.JobID, events.System, events.JobPaused{Reason: "model unreachable", Code: "model_unreachable"})
	if _, err := r.Store.Append(r.Ctx, env, &events.Expect{Subject: events.ControlSubject(hooked.JobID), Seq: state.ControlSeq}); err != nil {
		t.Fatal(err)
	}
	cancelJob(t, r, hooked.JobID)
	// The deliverer handles events in any order, so wait for both
	// deliveries, then check that nothing else was sent.
	kinds := map[string]bool{}
	for _, a := range hookAttempts(t, r, hooked.JobID, 2) {
		if !a.Delivered {
			t.Fatalf("attempt: %+v", a)
		}
		kinds[a.Kind] = true
	}
	if !kinds["job.paused"] || !kinds["job.cancelled"] {
		t.Fatalf("kinds delivered: %v", kinds)
	}
	info, err := r.Conn.JS.Consumer(r.Ctx, events.Stream, dispatch.WebhooksName)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ci, err := info.Info(r.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumPending == 0 && ci.NumAckPending == 0 {
			break
		}
		select {
		case <-r.Ctx.Done():
			t.Fatal("deliverer never caught up")
		case <-time.After(10 * time.Millisecond):
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 2 {
		t.Fatalf("receiver got %d deliveries, want 2 (system pause and cancel; no user pause, no job without callback)", len(rc.got))
	}
	var n int
	_ = r.Store.Read(r.Ctx, events.HookSubject(plain.JobID), 1, func(events.Envelope) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d attempts recorded for a job without callback", n)
	}
}
