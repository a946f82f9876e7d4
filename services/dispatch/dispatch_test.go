package dispatch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
	"github.com/tagstream/tagstream/services/pipeline"
)

func newRig(t *testing.T) *dispatch.Rig { return dispatch.NewRig(t, 5*time.Second) }

// okWorker runs a worker whose tagger tags every document "ok".
func okWorker(r *dispatch.Rig) {
	tagger := pipeline.TaggerFunc(func(context.Context, pipeline.TagInput) (pipeline.TagOutput, error) {
		return pipeline.TagOutput{Tags: []string{"ok"}}, nil
	})
	r.Go(r.Worker(tagger, dispatch.WorkerConfig{Concurrency: 2}).Run)
}

// appendRaw stores an envelope as another (newer, or broken) writer would.
func appendRaw(t *testing.T, r *dispatch.Rig, env events.Envelope) {
	t.Helper()
	env.ID, env.Time, env.Actor = events.NewID(), time.Now().UTC(), events.System
	if _, err := r.Store.Append(r.Ctx, env, nil); err != nil {
		t.Fatal(err)
	}
}

// A control event of a type this build does not know is skipped and
// counted; one that fails every time it is handled is dead-lettered after
// bounded deliveries. Neither holds up a job appended after them.
func TestForeignAndPoisonControlEventsDoNotStallOtherJobs(t *testing.T) {
	r := newRig(t)
	skipped, dead := make(chan events.Envelope, 4), make(chan events.Envelope, 4)
	d := r.Dispatcher()
	d.OnSkip = func(env events.Envelope, _ error) { skipped <- env }
	d.OnDeadLetter = func(env events.Envelope, _ error) { dead <- env }
	appendRaw(t, r, events.Envelope{Type: "JobArchived", JobID: "foreign", Version: 1, Data: []byte(`{}`), Subject: events.ControlSubject("foreign")})
	// A retry of a job that never started cannot be dispatched, ever.
	appendRaw(t, r, events.Envelope{Type: events.TypeJobRetried, JobID: "poison", Version: 1,
		Data: []byte(`{"attempt":2,"rows":[0],"config":{}}`), Subject: events.ControlSubject("poison")})
	r.Go(d.Run)
	res := r.Start(t, "u1", 2, services.StartConfig{})
	// The job itself also gets an event from the future, before any of its
	// documents start: it must still be tagged and completed.
	appendRaw(t, r, events.Envelope{Type: "JobLabelled", JobID: res.JobID, Version: 1, Data: []byte(`{}`), Subject: events.ControlSubject(res.JobID)})
	okWorker(r)
	if last := waitTerminal(r.Ctx, t, r.Store, res.JobID); last.Type != events.TypeJobCompleted {
		t.Fatalf("job ended %s", last.Type)
	}
	seen := map[string]bool{}
	for range 2 {
		select {
		case env := <-skipped:
			seen[env.JobID] = true
		case <-r.Ctx.Done():
			t.Fatal("a foreign event was never skipped")
		}
	}
	if !seen["foreign"] || !seen[res.JobID] {
		t.Fatalf("skipped the events of %v", seen)
	}
	for name, ch := range map[string]chan events.Envelope{"poison": dead} {
		select {
		case env := <-ch:
			if env.JobID != name {
				t.Fatalf("%s: got the event of %s", name, env.JobID)
			}
		case <-r.Ctx.Done():
			t.Fatalf("the %s event was never given up on", name)
		}
	}
	if d.Skipped() != 2 || d.DeadLettered() != 1 {
		t.Fatalf("skipped %d, dead-lettered %d", d.Skipped(), d.DeadLettered())
	}
}

type listed []projections.Job

func (l listed) List(context.Context, projections.Filter) ([]projections.Job, error) { return l, nil }

// Tasks lost from the queue (purged here) are queued again by the
// reconciler, which carries on past a job it cannot reconcile.
func TestReconcilerRequeuesLostTasksAndCarriesOnPastErrors(t *testing.T) {
	r := newRig(t)
	d := r.Dispatcher()
	r.Go(d.Run)
	res := r.Start(t, "u1", 3, services.StartConfig{})
	for {
		// Run creates its consumer in its own goroutine: until it has, the
		// start is simply not dispatched yet.
		cons, err := r.Conn.JS.Consumer(r.Ctx, events.Stream, dispatch.DispatcherName)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatal(err)
		}
		if err == nil {
			info, err := cons.Info(r.Ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.AckFloor.Stream >= res.Seq {
				break
			}
		}
		select {
		case <-r.Ctx.Done():
			t.Fatal("the start was never dispatched")
		case <-time.After(10 * time.Millisecond):
		}
	}
	st, err := r.Conn.JS.Stream(r.Ctx, dispatch.TaskStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(r.Ctx); err != nil {
		t.Fatal(err)
	}
	jobs := listed{{ID: "ghost", Status: events.StatusPending, Total: 1}, {ID: res.JobID, Status: events.StatusPending, Total: 3}}
	if err := services.Reconcile(r.Ctx, r.Store, jobs, d.Redispatch); err == nil {
		t.Fatal("the ghost job's error was swallowed")
	}
	okWorker(r)
	if last := waitTerminal(r.Ctx, t, r.Store, res.JobID); last.Type != events.TypeJobCompleted {
		t.Fatalf("job ended %s", last.Type)
	}
}
