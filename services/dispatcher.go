package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
)

// DispatcherName is the durable consumer through which dispatchers in every
// process share the control events.
const DispatcherName = "task-dispatcher"

// Dispatcher turns control events into task-queue work: it enqueues a
// task per document when a job starts or is retried, and removes a job's
// tasks and its API key when the job ends.
type Dispatcher struct {
	js      jetstream.JetStream
	store   events.Store
	queue   *TaskQueue
	secrets SecretStore
	log     *slog.Logger
}

// NewDispatcher returns a dispatcher.
func NewDispatcher(js jetstream.JetStream, store events.Store, queue *TaskQueue, secrets SecretStore, log *slog.Logger) *Dispatcher {
	return &Dispatcher{js: js, store: store, queue: queue, secrets: secrets, log: log}
}

// Run handles control events until ctx is done. Events are handled one at
// a time across all processes, so a job's start and end never reorder.
func (d *Dispatcher) Run(ctx context.Context) error {
	cons, err := d.js.CreateOrUpdateConsumer(ctx, events.Stream, jetstream.ConsumerConfig{
		Durable:       DispatcherName,
		FilterSubject: events.SubjectAllControl,
		AckPolicy:     jetstream.AckExplicitPolicy,
		// A dispatcher that dies mid-event holds up every later job until
		// this expires, so it is short and the live one heart-beats.
		AckWait:       d.queue.ackWait,
		MaxAckPending: 1,
	})
	if err != nil {
		return fmt.Errorf("dispatcher consumer: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.log.Warn("dispatcher: next", "err", err)
			return err // the caller restarts Run after a pause, with a fresh consumer
		}
		stop := heartbeat(msg, d.queue.ackWait/3)
		err = d.handle(ctx, msg)
		stop()
		if err != nil {
			d.log.Error("dispatcher: handle event", "subject", msg.Subject(), "err", err)
			_ = msg.NakWithDelay(time.Second)
			continue
		}
		if err := msg.DoubleAck(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("dispatcher: ack", "err", err)
		}
	}
}

func (d *Dispatcher) handle(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return err
	}
	env, err := events.Unmarshal(msg.Data(), meta.Sequence.Stream, msg.Subject())
	if err != nil {
		return err
	}
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	switch e := ev.(type) {
	case *events.JobStarted:
		return d.enqueue(ctx, env.JobID, e.InputID, nil, 1, e.Config)
	case *events.JobRetried:
		job, err := loadJob(ctx, d.store, env.JobID)
		if err != nil {
			return err
		}
		return d.enqueue(ctx, env.JobID, job.Started.InputID, e.Rows, e.Attempt, e.Config)
	case *events.JobCancelled, *events.JobCompleted, *events.JobFailed:
		if err := d.queue.drop(ctx, env.JobID); err != nil {
			return fmt.Errorf("drop tasks of %s: %w", env.JobID, err)
		}
		return d.forgetKeys(ctx, env)
	}
	return nil
}

// enqueue creates the job's consumer and a task per document (rows nil
// means every document), unless the job already ended.
func (d *Dispatcher) enqueue(ctx context.Context, jobID, inputID string, rows []int, attempt int, cfg events.JobConfig) error {
	last, err := d.store.Last(ctx, events.ControlSubject(jobID))
	if err != nil {
		return err
	}
	if events.Terminal(events.StatusAfter(last.Type)) {
		return nil
	}
	want := map[int]bool{}
	for _, r := range rows {
		want[r] = true
	}
	var tasks []task
	err = d.store.Read(ctx, events.InputSubject(jobID), 1, func(env events.Envelope) error {
		ev, err := env.Decode()
		if err != nil {
			return err
		}
		chunk := ev.(*events.DocumentsSubmitted)
		if chunk.InputID != inputID {
			return nil
		}
		for _, doc := range chunk.Documents {
			if rows == nil || want[doc.Row] {
				tasks = append(tasks, task{JobID: jobID, Attempt: attempt, Document: doc, Config: cfg})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := d.queue.ensureConsumer(ctx, jobID); err != nil {
		return fmt.Errorf("task consumer for %s: %w", jobID, err)
	}
	if err := d.queue.enqueue(ctx, tasks); err != nil {
		return err
	}
	d.log.Info("tasks enqueued", "job_id", jobID, "tasks", len(tasks), "attempt", attempt)
	return nil
}

// forgetKeys deletes the API keys of every attempt up to the one that just
// ended; a retry appended since then keeps its own.
func (d *Dispatcher) forgetKeys(ctx context.Context, ended events.Envelope) error {
	if d.secrets == nil {
		return nil
	}
	job, err := loadJobAt(ctx, d.store, ended.JobID, ended.Seq)
	if err != nil {
		return err
	}
	for a := 1; a <= job.Attempt; a++ {
		if err := d.secrets.Delete(ctx, secretID(ended.JobID, a)); err != nil {
			return err
		}
	}
	return nil
}
