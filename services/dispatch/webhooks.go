package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/webhook"
	"github.com/tagstream/tagstream/services"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// WebhooksName is the durable consumer through which deliverers in every
// process share the control events. It is separate from the dispatcher's,
// so a receiver that is down for hours holds up no task.
const WebhooksName = "webhook-deliverer"

// Retry schedule defaults: 30s, 1m, 2m, ... capped at 1h, for 24 hours
// after the event.
const (
	DefaultWebhookBase    = 30 * time.Second
	DefaultWebhookMax     = time.Hour
	DefaultWebhookHorizon = 24 * time.Hour
)

// WebhookSender sends one signed delivery (package webhook's Sender).
type WebhookSender interface {
	Send(ctx context.Context, url, id string, p webhook.Payload) webhook.Result
}

// WebhookConfig tunes the deliverer; zero fields take the defaults.
type WebhookConfig struct {
	Base, Max, Horizon time.Duration
	Concurrency        int           // deliveries in flight, default 8
	AckWait            time.Duration // default webhook.DefaultTimeout + 30s
}

// Webhooks delivers thin signed webhooks for job ends and system pauses
// to the job's callback_url, or its organisation's default. Retries are
// JetStream redeliveries (NakWithDelay) with exponential backoff, so they
// survive restarts; each attempt is a WebhookAttempted event on
// jobs.<id>.hook.
type Webhooks struct {
	js     jetstream.JetStream
	store  events.Store
	sender WebhookSender
	cfg    WebhookConfig
	log    *slog.Logger
}

// NewWebhooks returns a deliverer.
func NewWebhooks(js jetstream.JetStream, store events.Store, sender WebhookSender, cfg WebhookConfig, log *slog.Logger) *Webhooks {
	if cfg.Base <= 0 {
		cfg.Base = DefaultWebhookBase
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultWebhookMax
	}
	if cfg.Horizon <= 0 {
		cfg.Horizon = DefaultWebhookHorizon
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = webhook.DefaultTimeout + 30*time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &Webhooks{js: js, store: store, sender: sender, cfg: cfg, log: log}
}

// Run delivers until ctx is done.
func (w *Webhooks) Run(ctx context.Context) error {
	cons, err := w.js.CreateOrUpdateConsumer(ctx, events.Stream, jetstream.ConsumerConfig{
		Durable:       WebhooksName,
		FilterSubject: events.SubjectAllControl,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		MaxAckPending: dispatchMaxAckPending,
		MaxDeliver:    -1, // bounded by the horizon instead
	})
	if err != nil {
		return fmt.Errorf("webhook consumer: %w", err)
	}
	it, err := pullMessages(cons)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer it.Stop()
	slots := make(chan struct{}, w.cfg.Concurrency)
	for {
		msg, err := nextMsg(ctx, it, w.log, "webhooks")
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			stop := heartbeat(msg, w.cfg.AckWait/3)
			defer stop()
			w.settle(ctx, msg)
		}()
	}
}

// hookFor names the delivery a control event calls for, if any.
func hookFor(ev events.Event) (kind, status string) {
	switch e := ev.(type) {
	case *events.JobCompleted:
		status = jobpkg.CompletedStatus(*e)
	case *events.JobFailed:
		status = events.StatusFailed
	case *events.JobCancelled:
		status = events.StatusCancelled
	case *events.JobPaused:
		if e.Code == "" {
			return "", "" // the user paused it: they know
		}
		status = events.StatusPaused
	default:
		return "", ""
	}
	return "job." + status, status
}

func (w *Webhooks) settle(ctx context.Context, msg jetstream.Msg) {
	_, env, ev, err := decodeMsg(msg)
	if err != nil {
		_ = msg.Term() // unreadable here; the dispatcher counts skips
		return
	}
	retry, err := w.deliver(ctx, env, ev)
	switch {
	case ctx.Err() != nil:
		return // redelivered to whoever runs next
	case err != nil:
		w.log.Warn("webhooks: cannot handle an event", "job_id", env.JobID, "seq", env.Seq, "err", err)
		_ = msg.NakWithDelay(w.cfg.Base)
	case retry > 0:
		_ = msg.NakWithDelay(retry)
	default:
		if err := msg.DoubleAck(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("webhooks: ack", "err", err)
		}
	}
}

// deliver makes one attempt for env, if one is due, records it, and
// returns how long to wait before the next (0: done).
func (w *Webhooks) deliver(ctx context.Context, env events.Envelope, ev events.Event) (time.Duration, error) {
	kind, status := hookFor(ev)
	if kind == "" {
		return 0, nil
	}
	job, err := jobpkg.Load(ctx, w.store, env.JobID, env.Seq)
	if err != nil {
		if apperr.Code(err) == apperr.NotFound {
			return 0, nil
		}
		return 0, err
	}
	url, err := w.callbackURL(ctx, job)
	if err != nil || url == "" {
		return 0, err
	}
	prior, delivered, err := w.attempts(ctx, env)
	if err != nil || delivered {
		return 0, err
	}
	deadline := env.Time.Add(w.cfg.Horizon)
	if prior == 0 && time.Now().After(deadline) {
		return 0, nil // an old event seen by a new deliverer: too late to tell anyone
	}
	id := "msg_" + env.ID
	res := w.sender.Send(ctx, url, id, webhook.Payload{Type: kind, JobID: env.JobID, Status: status, Timestamp: env.Time})
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	rec := events.WebhookAttempted{EventSeq: env.Seq, WebhookID: id, Kind: kind, Attempt: prior + 1,
		Delivered: res.Err == nil, StatusCode: res.StatusCode}
	var wait time.Duration
	if res.Err != nil {
		rec.Error = res.Err.Error()
		wait = w.backoff(prior + 1)
		if next := time.Now().Add(wait); next.Before(deadline) {
			rec.NextAt = &next
		} else {
			wait = 0 // given up: the record without next_at says so
		}
	}
	out, err := events.New(env.JobID, events.System, rec)
	if err != nil {
		return 0, err
	}
	if _, err := w.store.Append(ctx, out, nil); err != nil {
		return 0, fmt.Errorf("record webhook attempt: %w", err)
	}
	if rec.Delivered {
		w.log.Info("webhook delivered", "job_id", env.JobID, "kind", kind, "attempt", rec.Attempt)
	} else {
		w.log.Warn("webhook attempt failed", "job_id", env.JobID, "kind", kind, "attempt", rec.Attempt,
			"status", res.StatusCode, "err", rec.Error, "retry_in", wait)
	}
	return wait, nil
}

// callbackURL is where a job's webhooks go: its own callback_url, else
// its organisation's default as set now (so an admin who moves the
// receiver moves the retries of earlier jobs too).
func (w *Webhooks) callbackURL(ctx context.Context, job *jobpkg.State) (string, error) {
	if job.Config.CallbackURL != "" || job.Started == nil || job.Started.OrgID == "" {
		return job.Config.CallbackURL, nil
	}
	return services.OrgCallbackURL(ctx, w.store, job.Started.OrgID)
}

// attempts counts the recorded attempts for env and whether one delivered,
// so a redelivery after a crash neither repeats a success nor restarts
// the numbering.
func (w *Webhooks) attempts(ctx context.Context, env events.Envelope) (n int, delivered bool, err error) {
	err = w.store.Read(ctx, events.HookSubject(env.JobID), 1, func(h events.Envelope) error {
		ev, err := h.Decode()
		if err != nil {
			return nil // a newer shape: not ours to count
		}
		if a, ok := ev.(*events.WebhookAttempted); ok && a.EventSeq == env.Seq {
			n++
			delivered = delivered || a.Delivered
		}
		return nil
	})
	return n, delivered, err
}

// backoff is the wait after the given failed attempt: Base doubling, at
// most Max.
func (w *Webhooks) backoff(attempt int) time.Duration {
	d := w.cfg.Base
	for i := 1; i < attempt && d < w.cfg.Max; i++ {
		d *= 2
	}
	return min(d, w.cfg.Max)
}
