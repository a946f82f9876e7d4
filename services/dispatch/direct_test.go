package dispatch_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
	"github.com/tagstream/tagstream/services/pipeline"
)

// probeTagger finds every document in the content cache; the first probe
// pauses the job before it answers, as a user's pause landing while a
// cached document is being recorded.
type probeTagger struct {
	t      *testing.T
	store  events.Store
	owner  services.Caller
	once   sync.Once
	paused chan struct{}
}

func (p *probeTagger) Cached(ctx context.Context, in pipeline.TagInput) (pipeline.TagOutput, bool, *pipeline.Probe) {
	p.once.Do(func() {
		if _, err := services.NewChangeJobHandler(p.store).Handle(ctx, services.ChangeJob{JobID: in.JobID, Action: services.ActionPause, Caller: p.owner}); err != nil {
			p.t.Error(err)
		}
		close(p.paused)
	})
	return pipeline.TagOutput{Tags: []string{"cached"}, Metadata: events.TagMetadata{CachedFrom: 1}}, true, nil
}

func (p *probeTagger) Tag(context.Context, pipeline.TagInput) (pipeline.TagOutput, error) {
	p.t.Error("a cached document reached the model")
	return pipeline.TagOutput{}, &pipeline.Failure{Code: "test", Reason: "not cached"}
}

// idleMeter says each time the worker has no task left in flight.
type idleMeter struct {
	n    atomic.Int32
	idle chan struct{}
}

func (m *idleMeter) InFlight(delta int) {
	if m.n.Add(int32(delta)) == 0 {
		m.idle <- struct{}{}
	}
}

func (m *idleMeter) DocumentDone(string, string, time.Duration) {}

// A re-run tagged from the cache records one DocumentTagged per document
// and no DocumentStarted, and still obeys a pause: a document found in the
// cache after the job was paused is not recorded until it is resumed.
func TestCachedDocumentsObeyAPauseMidRun(t *testing.T) {
	r := newRig(t)
	cache, err := dispatch.OpenContentCache(r.Ctx, r.Conn.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	owner := r.Caller("u1")
	tagger := &probeTagger{t: t, store: r.Store, owner: owner, paused: make(chan struct{})}
	r.Go(r.Dispatcher().Run)
	meter := &idleMeter{idle: make(chan struct{}, 64)}
	r.Go(r.Worker(tagger, dispatch.WorkerConfig{Concurrency: 1, Cache: cache, Metrics: meter}).Run)
	const docs = 4
	res := r.Start(t, "u1", docs, services.StartConfig{Model: "openai/gpt-4o-mini", APIKey: "sk-test"})
	select {
	case <-tagger.paused:
	case <-r.Ctx.Done():
		t.Fatal("no probe began")
	}
	// Resume only once the worker has settled the probed task (given it
	// back, or, wrongly, recorded it): nothing in flight.
	select {
	case <-meter.idle:
	case <-r.Ctx.Done():
		t.Fatal("the probed task was never settled")
	}
	if _, err := services.NewChangeJobHandler(r.Store).Handle(r.Ctx, services.ChangeJob{JobID: res.JobID, Action: services.ActionResume, Caller: owner}); err != nil {
		t.Fatal(err)
	}
	if last := waitTerminal(r.Ctx, t, r.Store, res.JobID); last.Type != events.TypeJobCompleted {
		t.Fatalf("job ended %s", last.Type)
	}

	paused, tagged := false, map[int]int{}
	if err := r.Store.Read(r.Ctx, events.JobSubjects(res.JobID), 1, func(env events.Envelope) error {
		ev, err := env.Decode()
		switch e := ev.(type) {
		case *events.JobPaused:
			paused = true
		case *events.JobResumed:
			paused = false
		case *events.DocumentStarted:
			t.Errorf("row %d: a DocumentStarted for a cached document", e.Row)
		case *events.DocumentTagged:
			tagged[e.Row]++
			if paused {
				t.Errorf("row %d tagged while the job was paused (seq %d)", e.Row, env.Seq)
			}
			if e.Metadata.CachedFrom == 0 {
				t.Errorf("row %d: no cached_from", e.Row)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(tagged) != docs {
		t.Fatalf("%d rows tagged, want %d", len(tagged), docs)
	}
	for row, n := range tagged {
		if n != 1 {
			t.Errorf("row %d tagged %d times", row, n)
		}
	}
}
