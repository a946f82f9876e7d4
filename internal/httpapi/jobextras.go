package httpapi

// Two read-only views shown beside a job's status, with the same access
// rules as its events: the webhook delivery log (from jobs.<id>.hook) and
// the ETA from the rate documents finished at recently.

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// maxHookAttempts bounds the delivery log's answer: a job has a few
// deliveries of at most ~30 attempts each (24 hours of capped backoff).
const maxHookAttempts = 500

// webhookAttempt is one delivery attempt as the console shows it. It has
// no URL and nothing derived from the signing secret.
type webhookAttempt struct {
	Seq       uint64     `json:"seq"`
	Time      time.Time  `json:"time"`
	Event     string     `json:"event"`     // job.completed, job.failed, ...
	EventSeq  uint64     `json:"event_seq"` // the control event delivered
	Attempt   int        `json:"attempt"`
	Delivered bool       `json:"delivered"`
	Status    int        `json:"status,omitempty"` // the receiver's HTTP status
	Error     string     `json:"error,omitempty"`
	NextRetry *time.Time `json:"next_retry,omitempty"`
	WebhookID string     `json:"webhook_id"`
	GivenUp   bool       `json:"given_up,omitempty"` // failed with no retry left
}

func (s *Server) jobWebhooks(c *gin.Context) {
	job, err := s.visibleJob(c)
	if err != nil {
		fail(c, err)
		return
	}
	cb := job.Config.CallbackURL
	if cb == "" && job.OrgID != "" && s.d.OrgDirectory != nil {
		cb = s.d.OrgDirectory.Settings(job.OrgID).CallbackURL // the organisation's default
	}
	out := []webhookAttempt{}
	err = s.d.Events.Read(c.Request.Context(), events.HookSubject(job.ID), 1, func(e events.Envelope) error {
		ev, err := e.Decode()
		if err != nil {
			return nil // a newer shape: shown in the audit trail instead
		}
		a, ok := ev.(*events.WebhookAttempted)
		if !ok {
			return nil
		}
		if len(out) == maxHookAttempts {
			out = out[1:] // keep the newest
		}
		out = append(out, webhookAttempt{Seq: e.Seq, Time: e.Time, Event: a.Kind, EventSeq: a.EventSeq, Attempt: a.Attempt,
			Delivered: a.Delivered, Status: a.StatusCode, Error: scrubURL(a.Error, cb), NextRetry: a.NextAt,
			WebhookID: a.WebhookID, GivenUp: !a.Delivered && a.NextAt == nil})
		return nil
	})
	if err != nil {
		fail(c, apperr.Wrap(err, "read webhook attempts"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"job_id": job.ID, "callback": cb != "", "attempts": out})
}

// scrubURL keeps the callback URL and its query (which may hold a token)
// out of an error text, should a transport ever quote it.
func scrubURL(msg, callback string) string {
	if msg == "" || callback == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, callback, "the callback URL")
	if u, err := url.Parse(callback); err == nil && u.RawQuery != "" {
		msg = strings.ReplaceAll(msg, u.RawQuery, "…")
	}
	return msg
}

// Rate window: the ETA uses the documents finished in the last rateWindow
// (at most rateSamples of them), so it follows the job's current pace
// rather than its average since the start.
const (
	rateWindow  = 5 * time.Minute
	rateSamples = 256
)

// rateTracker keeps, per running job, the times of its latest document
// outcomes, fed by the read models' tap (every process sees every event,
// so any server answers for any job). A pause, resume or retry starts the
// window afresh; the job's end forgets it. It holds nothing before the
// process's first ETA request: the ETA reads "-" until two documents
// finish after it.
type rateTracker struct {
	tap  Tapper
	once sync.Once
	mu   sync.Mutex
	jobs map[string][]time.Time
}

func newRateTracker(tap Tapper) *rateTracker {
	return &rateTracker{tap: tap, jobs: map[string][]time.Time{}}
}

// start taps the read models on the first ETA request, not at New: a
// server nobody asks for an ETA keeps no tap (and tests' fake tappers
// see only the taps they expect). The tap lasts as long as the process.
func (r *rateTracker) start() {
	r.once.Do(func() {
		if r.tap != nil {
			r.tap.Tap(func(uint64) {}, func(env events.Envelope) bool { r.observe(env); return true })
		}
	})
}

// observe runs under the runner's lock: a map update, nothing more.
func (r *rateTracker) observe(env events.Envelope) {
	switch env.Type {
	case events.TypeDocumentTagged, events.TypeDocumentFailed:
		r.mu.Lock()
		t := r.jobs[env.JobID]
		if len(t) == rateSamples {
			t = append(t[:0], t[1:]...)
		}
		r.jobs[env.JobID] = append(t, env.Time)
		r.mu.Unlock()
	case events.TypeJobPaused, events.TypeJobResumed, events.TypeJobRetried,
		events.TypeJobCompleted, events.TypeJobCancelled, events.TypeJobFailed:
		r.mu.Lock()
		delete(r.jobs, env.JobID)
		r.mu.Unlock()
	}
}

func (r *rateTracker) times(job string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.jobs[job]...)
}

// ratePerMinute is documents finished per minute over the outcomes in
// (now-rateWindow, now]: (n-1) intervals over the span from the first to
// the last. ok is false with fewer than two or a zero span.
func ratePerMinute(times []time.Time, now time.Time) (rate float64, ok bool) {
	from := now.Add(-rateWindow)
	var first, last time.Time
	n := 0
	for _, t := range times {
		if !t.After(from) || t.After(now) {
			continue
		}
		if n == 0 || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
		n++
	}
	span := last.Sub(first)
	if n < 2 || span <= 0 {
		return 0, false
	}
	return float64(n-1) / span.Minutes(), true
}

func (s *Server) jobETA(c *gin.Context) {
	job, err := s.visibleJob(c)
	if err != nil {
		fail(c, err)
		return
	}
	s.rates.start()
	// The tracker hears of an outcome just after the read models commit
	// it, so a status read a moment ago may already count it: catch the
	// taps up to the log first, or "2 tagged" would sit next to "no rate".
	s.syncReads(c.Request.Context(), "an ETA")
	remaining := max(0, job.Total-job.Processed-job.Failed-job.Cancelled)
	out := gin.H{"job_id": job.ID, "status": job.Status, "remaining": remaining,
		"rate_per_minute": nil, "eta_seconds": nil, "window_seconds": int(rateWindow / time.Second)}
	// Only a job at work has an ETA: a paused or finished one has none.
	if job.Status == events.StatusProcessing || job.Status == events.StatusPending {
		if rate, ok := ratePerMinute(s.rates.times(job.ID), time.Now()); ok {
			out["rate_per_minute"] = rate
			out["eta_seconds"] = int64(float64(remaining) / rate * 60)
		}
	}
	c.JSON(http.StatusOK, out)
}

// jobExtraRoutes adds the two views under /api/batch.
func (s *Server) jobExtraRoutes(b *gin.RouterGroup) {
	s.rates = newRateTracker(s.d.Tap)
	b.GET("/jobs/:job_id/webhooks", s.jobWebhooks)
	b.GET("/jobs/:job_id/eta", s.jobETA)
}
