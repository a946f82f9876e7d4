package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// lateTap is the runner between a commit and its publish: the read models
// already count the outcomes, the taps have not heard of them yet. Sync
// returns once they have, as the runner's does.
type lateTap struct {
	mu      sync.Mutex
	deliver func(events.Envelope) bool
	pending []events.Envelope
}

func (l *lateTap) Tap(snapshot func(uint64), deliver func(events.Envelope) bool) func() {
	snapshot(0)
	l.mu.Lock()
	l.deliver = deliver
	l.mu.Unlock()
	return func() {}
}

func (l *lateTap) Sync(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, env := range l.pending {
		l.deliver(env)
	}
	l.pending = nil
	return nil
}

func (l *lateTap) WaitFor(ctx context.Context, _ uint64) error { return l.Sync(ctx) }

// A status that counts two finished documents comes with a rate: the ETA
// does not answer from a tracker that has not yet heard of them.
func TestETAIsAsFreshAsTheStatus(t *testing.T) {
	tap := &lateTap{}
	job := projections.Job{ID: "j1", OwnerID: "u1", Status: events.StatusProcessing, Total: 5, Processed: 2}
	ts := serveReal(t, Deps{Auth: okAuth{}, Tap: tap, Freshness: tap, Jobs: feedJob{job}})
	defer closeIdle(ts.Client())
	if body := getJSON(t, ts.URL, "t", "/api/batch/jobs/j1/eta", 200); body["rate_per_minute"] != nil {
		t.Fatalf("a rate before any outcome: %v", body)
	}
	now := time.Now()
	for i, ago := range []time.Duration{30 * time.Second, 10 * time.Second} {
		env := envelope("j1", events.TypeDocumentTagged, now.Add(-ago))
		env.Seq = uint64(i + 1)
		tap.mu.Lock()
		tap.pending = append(tap.pending, env)
		tap.mu.Unlock()
	}
	body := getJSON(t, ts.URL, "t", "/api/batch/jobs/j1/eta", 200)
	rate, _ := body["rate_per_minute"].(float64)
	if rate < 2.9 || rate > 3.1 || body["eta_seconds"] == nil {
		t.Fatalf("two outcomes 20 s apart gave %v, want 3 a minute and an ETA", body)
	}
}
