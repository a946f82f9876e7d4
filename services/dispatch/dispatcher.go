package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// DispatcherName is the durable consumer through which dispatchers in every
// process share the control events.
const DispatcherName = "task-dispatcher"

// Bounds of the dispatcher's consumer. Events of different jobs are handled
// in parallel (one lane per job), so one slow or failing job holds up only
// itself; an event that fails dispatchMaxDeliver times is dead-lettered.
const (
	dispatchMaxAckPending = 256
	dispatchMaxDeliver    = 5
)

// Dispatcher turns control events into task-queue work: it enqueues a
// task per document when a job starts or is retried, and removes a job's
// tasks and its API key when the job ends. Every handler decides on the
// job's current state (package job), so events handled out of order, twice
// or by two processes at once leave the queue as the log says.
type Dispatcher struct {
	js      jetstream.JetStream
	store   events.Store
	queue   *TaskQueue
	secrets services.SecretStore
	log     *slog.Logger

	// OnSkip hears about a control event this build cannot read (unknown
	// type or version): it is skipped for good, not retried.
	OnSkip func(env events.Envelope, err error)
	// OnDeadLetter hears about an event given up on after
	// dispatchMaxDeliver failed deliveries.
	OnDeadLetter func(env events.Envelope, err error)

	// LostAfter is how long a document of a paused job may stay started
	// without an outcome before the reconciler takes its process for dead
	// and releases it (jobpkg.CodeWorkerLost); 0: never. Longer than any
	// live worker keeps one: the document deadline plus the task's ack
	// wait, with a margin.
	LostAfter time.Duration

	skipped, dead atomic.Int64

	mu    sync.Mutex
	lanes map[string]chan jetstream.Msg
	wg    sync.WaitGroup
}

// NewDispatcher returns a dispatcher.
func NewDispatcher(js jetstream.JetStream, store events.Store, queue *TaskQueue, secrets services.SecretStore, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{js: js, store: store, queue: queue, secrets: secrets, log: log, lanes: map[string]chan jetstream.Msg{}}
}

// Skipped is how many unreadable events this dispatcher skipped.
func (d *Dispatcher) Skipped() int64 { return d.skipped.Load() }

// DeadLettered is how many events this dispatcher gave up on.
func (d *Dispatcher) DeadLettered() int64 { return d.dead.Load() }

// Run handles control events until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	cons, err := d.js.CreateOrUpdateConsumer(ctx, events.Stream, jetstream.ConsumerConfig{
		Durable:       DispatcherName,
		FilterSubject: events.SubjectAllControl,
		AckPolicy:     jetstream.AckExplicitPolicy,
		// A dispatcher that dies mid-event holds up that job until this
		// expires, so it is short and the live one heart-beats.
		AckWait:       d.queue.ackWait,
		MaxAckPending: dispatchMaxAckPending,
		MaxDeliver:    dispatchMaxDeliver,
	})
	if err != nil {
		return fmt.Errorf("dispatcher consumer: %w", err)
	}
	it, err := pullMessages(cons)
	if err != nil {
		return err
	}
	defer d.wg.Wait()
	defer it.Stop()
	for {
		msg, err := nextMsg(ctx, it, d.log, "dispatcher")
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.log.Warn("dispatcher: next", "err", err)
			return err // the caller restarts Run after a pause, with a fresh consumer
		}
		jobID, _, _, perr := events.ParseSubject(msg.Subject())
		if perr != nil {
			d.log.Error("dispatcher: dropping a message on a foreign subject", "subject", msg.Subject())
			_ = msg.Term()
			continue
		}
		d.submit(ctx, jobID, msg)
	}
}

// submit hands msg to its job's lane, which handles the job's events in
// the order they arrive. The lane's buffer holds every message the
// consumer may have outstanding, so submit never blocks.
func (d *Dispatcher) submit(ctx context.Context, jobID string, msg jetstream.Msg) {
	stop := heartbeat(msg, d.queue.ackWait/3)
	d.mu.Lock()
	defer d.mu.Unlock()
	lane := d.lanes[jobID]
	if lane == nil {
		lane = make(chan jetstream.Msg, dispatchMaxAckPending)
		d.lanes[jobID] = lane
		d.wg.Add(1)
		go d.runLane(ctx, jobID, lane)
	}
	lane <- &beatingMsg{Msg: msg, stop: stop}
}

type beatingMsg struct {
	jetstream.Msg
	stop func()
}

// runLane handles one job's events and ends once the lane is empty.
func (d *Dispatcher) runLane(ctx context.Context, jobID string, lane chan jetstream.Msg) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(lane) == 0 || ctx.Err() != nil {
			delete(d.lanes, jobID)
			d.mu.Unlock()
			for len(lane) > 0 { // only when ctx is done: leave them for redelivery
				(<-lane).(*beatingMsg).stop()
			}
			return
		}
		d.mu.Unlock()
		msg := (<-lane).(*beatingMsg)
		d.settle(ctx, msg)
		msg.stop()
	}
}

// decodeMsg reads the event a control-subject message carries, with its
// stream sequence; the dispatcher and the webhook deliverer share it. A
// nil meta means the message had no JetStream metadata: nothing to read.
func decodeMsg(msg jetstream.Msg) (*jetstream.MsgMetadata, events.Envelope, events.Event, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return nil, events.Envelope{}, nil, err
	}
	env := events.FromLog(msg.Data(), meta.Sequence.Stream, msg.Subject())
	ev, err := env.Decode()
	return meta, env, ev, err
}

// settle handles one event and acknowledges, retries or gives it up.
func (d *Dispatcher) settle(ctx context.Context, msg jetstream.Msg) {
	meta, env, ev, err := decodeMsg(msg)
	if err != nil {
		if meta != nil {
			d.skip(env, err)
		}
		_ = msg.Term()
		return
	}
	if err := d.handle(ctx, env, ev); err != nil {
		if ctx.Err() != nil {
			return // redelivered to whoever runs next
		}
		if meta.NumDelivered >= dispatchMaxDeliver {
			d.dead.Add(1)
			d.log.Error("dispatcher: dead-lettering an event after repeated failures", "job_id", env.JobID,
				"seq", env.Seq, "type", env.Type, "deliveries", meta.NumDelivered, "err", err)
			if d.OnDeadLetter != nil {
				d.OnDeadLetter(env, err)
			}
			_ = msg.Term()
			return
		}
		d.log.Warn("dispatcher: handle event", "job_id", env.JobID, "seq", env.Seq, "type", env.Type, "err", err)
		_ = msg.NakWithDelay(time.Duration(meta.NumDelivered) * 200 * time.Millisecond)
		return
	}
	if err := msg.DoubleAck(ctx); err != nil && ctx.Err() == nil {
		d.log.Warn("dispatcher: ack", "err", err)
	}
}

func (d *Dispatcher) skip(env events.Envelope, err error) {
	d.skipped.Add(1)
	d.log.Warn("dispatcher: skipping an event it cannot read", "job_id", env.JobID, "seq", env.Seq,
		"type", env.Type, "v", env.Version, "err", err)
	if d.OnSkip != nil {
		d.OnSkip(env, err)
	}
}

func (d *Dispatcher) handle(ctx context.Context, env events.Envelope, ev events.Event) error {
	switch e := ev.(type) {
	case *events.JobStarted:
		return d.enqueue(ctx, env.JobID, nil, 1, e.Config)
	case *events.JobRetried:
		return d.enqueue(ctx, env.JobID, e.Rows, e.Attempt, e.Config)
	case *events.JobCancelled, *events.JobCompleted, *events.JobFailed:
		return d.ended(ctx, env)
	}
	return nil
}

// enqueue creates the job's consumer and a task per document of the
// attempt (rows nil means every document), unless the attempt is over.
func (d *Dispatcher) enqueue(ctx context.Context, jobID string, rows []int, attempt int, cfg events.JobConfig) error {
	job, err := jobpkg.Load(ctx, d.store, jobID, 0)
	if err != nil {
		return err
	}
	if job.CanStart(attempt) == jobpkg.StartNever {
		return nil
	}
	return d.enqueueRows(ctx, job, rows, attempt, cfg, "")
}

func (d *Dispatcher) enqueueRows(ctx context.Context, job *jobpkg.State, rows []int, attempt int, cfg events.JobConfig, idSuffix string) error {
	docs, err := d.documents(ctx, job.ID, job.Started.InputID)
	if err != nil {
		return err
	}
	var tasks []task
	for _, doc := range docs {
		if rows == nil || containsInt(rows, doc.Row) {
			tasks = append(tasks, task{JobID: job.ID, Attempt: attempt, Document: doc, Config: cfg})
		}
	}
	tasks = groupTwins(tasks)
	if err := d.queue.ensureConsumer(ctx, job.ID); err != nil {
		return fmt.Errorf("task consumer for %s: %w", job.ID, err)
	}
	if err := d.queue.enqueue(ctx, tasks, idSuffix); err != nil {
		return err
	}
	// The job may have ended while the tasks were queued, and that end's
	// drop (perhaps in another process) may have run before them.
	if now, err := jobpkg.Load(ctx, d.store, job.ID, 0); err == nil && events.Terminal(now.Status) {
		return d.queue.drop(ctx, job.ID)
	}
	d.log.Info("tasks enqueued", "job_id", job.ID, "tasks", len(tasks), "attempt", attempt)
	return nil
}

// documents reads the job's submitted documents.
func (d *Dispatcher) documents(ctx context.Context, jobID, inputID string) ([]events.Document, error) {
	var docs []events.Document
	err := d.store.Read(ctx, events.InputSubject(jobID), 1, func(env events.Envelope) error {
		ev, err := env.Decode()
		if err != nil {
			return err
		}
		chunk, ok := ev.(*events.DocumentsSubmitted)
		if !ok {
			return fmt.Errorf("%s at seq %d on the input subject of job %s", env.Type, env.Seq, jobID)
		}
		if chunk.InputID == inputID {
			docs = append(docs, chunk.Documents...)
		}
		return nil
	})
	return docs, err
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

// ended removes a finished job's tasks, unless a retry has made it live
// again since, and the API keys of every attempt up to the one that ended.
func (d *Dispatcher) ended(ctx context.Context, env events.Envelope) error {
	now, err := jobpkg.Load(ctx, d.store, env.JobID, 0)
	if err != nil {
		return err
	}
	if events.Terminal(now.Status) {
		if err := d.queue.drop(ctx, env.JobID); err != nil {
			return fmt.Errorf("drop tasks of %s: %w", env.JobID, err)
		}
	}
	return d.forgetKeys(ctx, env)
}

// forgetKeys deletes the API keys of every attempt up to the one that just
// ended; a retry appended since then keeps its own.
func (d *Dispatcher) forgetKeys(ctx context.Context, ended events.Envelope) error {
	if d.secrets == nil {
		return nil
	}
	job, err := jobpkg.Load(ctx, d.store, ended.JobID, ended.Seq)
	if err != nil {
		return err
	}
	for a := 1; a <= job.Attempt; a++ {
		if err := d.secrets.Delete(ctx, jobpkg.SecretID(ended.JobID, a)); err != nil {
			return err
		}
	}
	return nil
}

// Redispatch queues again the documents of a live job's current attempt
// that have no outcome, when the job's task queue is empty: their tasks
// were lost (a drop that raced a retry, a purged stream). It does nothing
// while the dispatcher has not yet handled the attempt's own event.
func (d *Dispatcher) Redispatch(ctx context.Context, jobID string) error {
	if d.LostAfter > 0 {
		if err := d.releaseLost(ctx, jobID); err != nil {
			return err
		}
	}
	if c, err := d.queue.consumer(ctx, jobID); err != nil {
		return err
	} else if c != nil {
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			return nil
		}
	}
	job, err := jobpkg.LoadFull(ctx, d.store, jobID)
	if err != nil {
		return err
	}
	if events.Terminal(job.Status) {
		return nil
	}
	dc, err := d.js.Consumer(ctx, events.Stream, DispatcherName)
	if err != nil {
		return err
	}
	info, err := dc.Info(ctx)
	if err != nil {
		return err
	}
	if info.AckFloor.Stream < job.AttemptSeq {
		return nil // the attempt's own event is still being dispatched
	}
	rows := []int{}
	for row, doc := range job.Docs {
		if doc.Attempt == job.Attempt && !jobpkg.Terminal(doc.Status) {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	d.log.Warn("dispatcher: queueing lost tasks again", "job_id", jobID, "attempt", job.Attempt, "tasks", len(rows))
	return d.enqueueRows(ctx, job, rows, job.Attempt, job.Config, fmt.Sprintf("-r%d", time.Now().UnixNano()))
}

// releaseLost releases the documents of a paused job that were started
// more than LostAfter ago and have no outcome: the process tagging them
// died while the job was paused, and nothing redelivers their tasks until
// a resume, so they read "processing" for as long as the pause lasted.
// Each release expects the document's start as its last event, so a
// worker that is alive after all and records its outcome wins, or finds
// the release and drops its outcome.
func (d *Dispatcher) releaseLost(ctx context.Context, jobID string) error {
	// The job's last control event says whether it is paused, without
	// folding its documents (the reconciler asks for every live job).
	ctl, err := d.store.Last(ctx, events.ControlSubject(jobID))
	if err != nil || ctl.Type != events.TypeJobPaused {
		return err
	}
	job, err := jobpkg.LoadFull(ctx, d.store, jobID)
	if err != nil || job.Status != events.StatusPaused {
		return err
	}
	for row, doc := range job.Docs {
		if doc.Attempt != job.Attempt || doc.Status != jobpkg.DocProcessing {
			continue
		}
		last, err := d.store.Last(ctx, events.DocSubject(jobID, row))
		if err != nil {
			return err
		}
		if last.Type != events.TypeDocumentStarted || time.Since(last.Time) < d.LostAfter {
			continue
		}
		env, err := events.New(jobID, events.System, events.DocumentReleased{Row: row, Attempt: doc.Attempt, Code: jobpkg.CodeWorkerLost,
			Reason: "the process tagging it stopped while the job was paused; it runs again when the job is resumed"})
		if err != nil {
			return err
		}
		_, err = d.store.Append(ctx, env, &events.Expect{Subject: events.DocSubject(jobID, row), Seq: last.Seq})
		if err != nil && !errors.Is(err, events.ErrConflict) {
			return err
		}
		if err == nil {
			d.log.Warn("dispatcher: released a document whose process died while its job was paused", "job_id", jobID, "row", row)
		}
	}
	return nil
}
