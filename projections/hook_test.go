package projections_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// A WebhookAttempted (jobs.<id>.hook) changes no read model: not the
// job's status or updated_at, its results or the analytics.
func TestWebhookAttemptsChangeNoReadModel(t *testing.T) {
	l := (&logb{t: t}).add(events.DocumentsSubmitted{InputID: "in", Documents: []events.Document{{Row: 0, FilePath: "a.pdf"}}}).
		add(events.JobStarted{InputID: "in", Total: 1, Config: events.JobConfig{Model: "m", CallbackURL: "https://h.example.org/x"}}).
		add(events.JobCancelled{Reason: "stop"})
	later := time.Now().Add(time.Hour)
	hook := (&logb{t: t}).add(events.WebhookAttempted{EventSeq: 3, WebhookID: "msg_x", Kind: "job.cancelled", Attempt: 1,
		StatusCode: 500, Error: "receiver answered 500", NextAt: &later}).envs[0]
	hook.Seq, hook.Time = 4, later
	models := []projections.Projection{projections.NewJobStatus(), projections.NewDocumentResults(), projections.NewAnalytics()}
	for _, p := range models {
		for _, env := range l.envs {
			if err := p.Apply(env); err != nil {
				t.Fatal(err)
			}
		}
		before, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Apply(hook); err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		after, _ := p.Snapshot()
		if !bytes.Equal(before, after) {
			t.Errorf("%s changed on a webhook attempt:\n%s\n%s", p.Name(), before, after)
		}
	}
}
