package dispatch_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/natsx"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/secrets"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
	"github.com/tagstream/tagstream/services/pipeline"
)

type rig struct {
	ctx   context.Context
	conn  *natsx.Conn
	store events.Store
	queue *dispatch.TaskQueue
	sec   *secrets.Store
	log   *slog.Logger
	wg    *sync.WaitGroup
}

func newRig(t *testing.T) *rig {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	conn := natstest.Start(t, "")
	store, err := jsstore.Open(ctx, conn.JS, jsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := dispatch.OpenTaskQueue(ctx, conn.JS, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := secrets.Open(ctx, conn.JS, 1, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{ctx: ctx, conn: conn, store: store, queue: queue, sec: sec, log: slog.New(slog.DiscardHandler), wg: &sync.WaitGroup{}}
	t.Cleanup(func() { cancel(); r.wg.Wait() })
	return r
}

func (r *rig) goRun(fn func(context.Context) error) {
	r.wg.Add(1)
	go func() { defer r.wg.Done(); _ = fn(r.ctx) }()
}

func (r *rig) worker() {
	tagger := pipeline.TaggerFunc(func(_ context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
		return pipeline.TagOutput{Tags: []string{"ok"}}, nil
	})
	r.goRun(dispatch.NewWorker(r.store, r.queue, r.sec, tagger, dispatch.WorkerConfig{ID: "w", Concurrency: 2, Log: r.log, ShutdownGrace: time.Second}).Run)
}

func (r *rig) start(t *testing.T, docs int) services.StartResult {
	t.Helper()
	rows := make([]map[string]any, docs)
	for i := range rows {
		rows[i] = map[string]any{"file_path": "a.pdf"}
	}
	res, err := services.NewStartJobHandler(r.store, r.sec, 100, false).Handle(r.ctx, services.StartJob{
		Caller: services.Caller{Actor: events.User("u1", "u1@example.com")}, Documents: rows,
		Config: services.StartConfig{Model: services.KeywordsModel},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// appendRaw stores an envelope as another (newer, or broken) writer would.
func (r *rig) appendRaw(t *testing.T, env events.Envelope) {
	t.Helper()
	env.ID, env.Time, env.Actor = events.NewID(), time.Now().UTC(), events.System
	if _, err := r.store.Append(r.ctx, env, nil); err != nil {
		t.Fatal(err)
	}
}

// A control event of a type this build does not know is skipped and
// counted; one that fails every time it is handled is dead-lettered after
// bounded deliveries. Neither holds up a job appended after them.
func TestForeignAndPoisonControlEventsDoNotStallOtherJobs(t *testing.T) {
	r := newRig(t)
	skipped, dead := make(chan events.Envelope, 4), make(chan events.Envelope, 4)
	d := dispatch.NewDispatcher(r.conn.JS, r.store, r.queue, r.sec, r.log)
	d.OnSkip = func(env events.Envelope, _ error) { skipped <- env }
	d.OnDeadLetter = func(env events.Envelope, _ error) { dead <- env }
	r.appendRaw(t, events.Envelope{Type: "JobArchived", JobID: "foreign", Version: 1, Data: []byte(`{}`), Subject: events.ControlSubject("foreign")})
	// A retry of a job that never started cannot be dispatched, ever.
	r.appendRaw(t, events.Envelope{Type: events.TypeJobRetried, JobID: "poison", Version: 1,
		Data: []byte(`{"attempt":2,"rows":[0],"config":{}}`), Subject: events.ControlSubject("poison")})
	r.goRun(d.Run)
	res := r.start(t, 2)
	// The job itself also gets an event from the future, before any of its
	// documents start: it must still be tagged and completed.
	r.appendRaw(t, events.Envelope{Type: "JobLabelled", JobID: res.JobID, Version: 1, Data: []byte(`{}`), Subject: events.ControlSubject(res.JobID)})
	r.worker()
	if last := waitTerminal(r.ctx, t, r.store, res.JobID); last.Type != events.TypeJobCompleted {
		t.Fatalf("job ended %s", last.Type)
	}
	seen := map[string]bool{}
	for range 2 {
		select {
		case env := <-skipped:
			seen[env.JobID] = true
		case <-r.ctx.Done():
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
		case <-r.ctx.Done():
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
	d := dispatch.NewDispatcher(r.conn.JS, r.store, r.queue, r.sec, r.log)
	r.goRun(d.Run)
	res := r.start(t, 3)
	for {
		// Run creates its consumer in its own goroutine: until it has, the
		// start is simply not dispatched yet.
		cons, err := r.conn.JS.Consumer(r.ctx, events.Stream, dispatch.DispatcherName)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatal(err)
		}
		if err == nil {
			info, err := cons.Info(r.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.AckFloor.Stream >= res.Seq {
				break
			}
		}
		select {
		case <-r.ctx.Done():
			t.Fatal("the start was never dispatched")
		case <-time.After(10 * time.Millisecond):
		}
	}
	st, err := r.conn.JS.Stream(r.ctx, dispatch.TaskStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(r.ctx); err != nil {
		t.Fatal(err)
	}
	jobs := listed{{ID: "ghost", Status: events.StatusPending, Total: 1}, {ID: res.JobID, Status: events.StatusPending, Total: 3}}
	if err := services.Reconcile(r.ctx, r.store, jobs, d.Redispatch); err == nil {
		t.Fatal("the ghost job's error was swallowed")
	}
	r.worker()
	if last := waitTerminal(r.ctx, t, r.store, res.JobID); last.Type != events.TypeJobCompleted {
		t.Fatalf("job ended %s", last.Type)
	}
}
