package dispatch_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/webhook"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
)

// A dispatcher whose pull request was lost (as on a cluster node the new
// consumer's interest has not reached yet) still dispatches a job started
// next within seconds: it notices the missing heartbeats and pulls again.
// With the client's default heartbeat (30 s for a pull consumer, missed
// twice) and a missed heartbeat taken for a failure, the job waited about
// a minute.
func TestDispatcherRecoversFromALostPull(t *testing.T) {
	r := newRig(t)
	proxy := natstest.NewPullDropper(r.Conn.Server)
	proxy.Arm()
	r.Go(dispatch.NewDispatcher(proxy.Connect(t), r.Store, r.Queue, r.SecretStore, r.Log).Run)
	select {
	case <-proxy.Dropped:
	case <-r.Ctx.Done():
		t.Fatal("the dispatcher never pulled")
	}
	okWorker(r)
	res := r.Start(t, "u1", 1, services.StartConfig{})
	ctx, cancel := context.WithTimeout(r.Ctx, 8*time.Second)
	defer cancel()
	if last := waitTerminal(ctx, t, r.Store, res.JobID); last.Type != events.TypeJobCompleted {
		t.Fatalf("8 s after its start the job's last event is %q; want it completed", last.Type)
	}
}

// The same for the webhooks' consumer: a delivery due after a lost pull
// goes out within seconds.
func TestWebhooksRecoverFromALostPull(t *testing.T) {
	r := newRig(t)
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	proxy := natstest.NewPullDropper(r.Conn.Server)
	proxy.Arm()
	secret, err := webhook.ParseSecret(webhook.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	sender := webhook.NewSender(webhook.Config{Secret: secret, AllowPrivate: true})
	r.Go(dispatch.NewWebhooks(proxy.Connect(t), r.Store, sender, dispatch.WebhookConfig{}, r.Log).Run)
	select {
	case <-proxy.Dropped:
	case <-r.Ctx.Done():
		t.Fatal("the webhooks never pulled")
	}
	job := startWithCallback(t, r, srv.URL+"/hooks", true)
	cancelJob(t, r, job.JobID)
	start := time.Now()
	if got := hookAttempts(t, r, job.JobID, 1); !got[0].Delivered {
		t.Fatalf("attempt %+v, want delivered", got[0])
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("the delivery went out %s after the cancel; want within 8 s", took.Round(time.Millisecond))
	}
}

// A dispatcher whose pulls are never answered (its consumer gone, say)
// gives up after five of them instead of waiting for ever, and returns an
// error so that its caller starts it again with a fresh consumer.
func TestDispatcherGivesUpAfterFiveUnansweredPulls(t *testing.T) {
	r := newRig(t)
	proxy := natstest.NewPullDropper(r.Conn.Server)
	proxy.DropEvery()
	done := make(chan error, 1)
	go func() {
		done <- dispatch.NewDispatcher(proxy.Connect(t), r.Store, r.Queue, r.SecretStore, r.Log).Run(r.Ctx)
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the dispatcher stopped without an error; its caller would not start it again")
		}
		if n := proxy.Drops(); n != 5 {
			t.Fatalf("gave up after %d unanswered pulls, want 5 (%v)", n, err)
		}
	case <-r.Ctx.Done():
		t.Fatalf("the dispatcher still waits after %d unanswered pulls", proxy.Drops())
	}
}
