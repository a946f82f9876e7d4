package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services"
	jobpkg "github.com/tagstream/tagstream/services/job"
	"github.com/tagstream/tagstream/services/pipeline"
	"golang.org/x/sync/singleflight"
)

// WorkerConfig tunes a tagging worker.
type WorkerConfig struct {
	ID            string        // worker id recorded as the actor of its events
	Concurrency   int           // documents in flight at once (TAGSTREAM_WORKERS)
	ServerAPIKey  string        // used for jobs whose key source is "server"
	DocTimeout    time.Duration // per-document deadline
	ShutdownGrace time.Duration // how long in-flight documents may finish on shutdown
	Log           *slog.Logger
	Metrics       WorkerMetrics // nil: not measured
	// OnSkip hears about an event this build cannot read (an unknown type
	// or version), which the worker skips; the process counts it.
	OnSkip func(env events.Envelope, err error)
	// Cache reuses earlier tags of identical documents of the same owner
	// (job config cache); nil: no content cache.
	Cache ContentCache
}

// WorkerMetrics hears about document work; the process's metrics registry
// implements it. Declared here so services does not depend on Prometheus.
type WorkerMetrics interface {
	// InFlight moves the number of tasks being worked on by delta.
	InFlight(delta int)
	// DocumentDone reports a recorded outcome: "tagged", or "failed" with
	// the failure's machine code; d is the tagging time.
	DocumentDone(outcome, code string, d time.Duration)
}

type noMetrics struct{}

func (noMetrics) InFlight(int)                               {}
func (noMetrics) DocumentDone(string, string, time.Duration) {}

// Worker takes document tasks of runnable jobs, tags them and appends each
// document's outcome.
type Worker struct {
	store   events.Store
	queue   *TaskQueue
	secrets services.SecretStore
	tagger  pipeline.Tagger
	cfg     WorkerConfig
	actor   events.Actor

	mu        sync.Mutex
	isolate   sync.RWMutex             // see hold
	jobs      map[string]*jobpkg.State // job id -> state folded from control events
	consumers map[string]jetstream.Consumer
	// Fair shares (see pick): documents in flight per owner, and the
	// cursors that make ties take turns across scheduling rounds.
	ownerInFlight map[string]int
	lastOwner     string
	lastJob       map[string]string // owner -> job that got its last slot

	inflight   atomic.Int64
	completing singleflight.Group // completion checks in progress, per job
	tails      chan struct{}      // documents being recorded off their slot (recordDirect)
	wake       chan struct{}
	streaks    streaks // documents in a row that could not reach the model, per job
}

// NewWorker returns a worker.
func NewWorker(store events.Store, queue *TaskQueue, secrets services.SecretStore, tagger pipeline.Tagger, cfg WorkerConfig) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.DocTimeout <= 0 {
		cfg.DocTimeout = 5 * time.Minute
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	return &Worker{store: store, queue: queue, secrets: secrets, tagger: tagger, cfg: cfg,
		actor: events.Worker(cfg.ID), jobs: map[string]*jobpkg.State{}, consumers: map[string]jetstream.Consumer{},
		ownerInFlight: map[string]int{}, lastJob: map[string]string{}, wake: make(chan struct{}, 1),
		tails: make(chan struct{}, tailsPerSlot*cfg.Concurrency)}
}

// Run works until ctx is done, then stops taking tasks, lets in-flight
// documents finish for up to ShutdownGrace and releases the rest for
// another worker (no outcome is recorded for them).
func (w *Worker) Run(ctx context.Context) error {
	work, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	go w.watchControl(ctx)
	var wg sync.WaitGroup
	// When nothing could start, look again after idle. A wake (a slot
	// freed, a control event) resets it to the minimum, and it doubles up
	// to the maximum while nothing changes: a job's consumer and tasks
	// appear shortly after its JobStarted, which wakes us, and a fixed
	// 250 ms poll made every job start that much later.
	//
	// A runnable job without its task consumer yet is one the dispatcher
	// is queueing right now: it is looked for again soon (idleNewJob),
	// since nothing wakes the worker when the tasks are in.
	idle := idlePollMin
	for ctx.Err() == nil {
		started, fresh := w.schedule(ctx, work, &wg)
		if started > 0 {
			continue
		}
		ceiling := idlePollMax
		if fresh {
			ceiling = idleNewJob
		}
		idle = min(idle, ceiling)
		select {
		case <-ctx.Done():
		case <-w.wake:
			idle = idlePollMin
		case <-time.After(idle):
			idle = min(2*idle, ceiling)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.cfg.ShutdownGrace):
		abandon()
		// A tagger that ignores its cancelled context must not hold the
		// shutdown: give the outcomes settleTimeout to land, then go.
		select {
		case <-done:
		case <-time.After(settleTimeout):
			w.cfg.Log.Warn("worker: documents still running after the shutdown grace; leaving them to be redelivered",
				"in_flight", w.inflight.Load())
		}
	}
	return nil
}

// Bounds of the scheduler's poll when no task could be started.
const (
	idlePollMin = 10 * time.Millisecond
	idleNewJob  = 20 * time.Millisecond
	idlePollMax = 250 * time.Millisecond
)

// schedule fetches tasks for free slots, each for the owner with the
// fewest documents in flight (see pick), and returns how many it started,
// and whether a runnable job has no task consumer yet.
func (w *Worker) schedule(ctx, work context.Context, wg *sync.WaitGroup) (started int, fresh bool) {
	jobs := w.runnable()
	dry := map[string]bool{} // jobs with nothing to take this round
	for free := int64(w.cfg.Concurrency) - w.inflight.Load(); free > 0; free = int64(w.cfg.Concurrency) - w.inflight.Load() {
		owner, jobID, owners := w.pick(jobs, dry)
		if jobID == "" {
			break
		}
		cons := w.consumer(ctx, jobID)
		if cons == nil {
			dry[jobID], fresh = true, true
			continue
		}
		// One fetch for the owner's fair share of the free slots, not one
		// per slot: each fetch is a round trip, and a re-run of cached
		// documents frees slots faster than one at a time can fill them.
		batch, err := cons.FetchNoWait(int(max(free/int64(owners), 1)))
		if err != nil {
			w.forgetConsumer(jobID)
			dry[jobID] = true
			continue
		}
		got := false
		for msg := range batch.Messages() {
			got = true
			started++
			w.startTask(work, wg, owner, jobID, msg)
		}
		if !got {
			dry[jobID] = true
		}
	}
	return started, fresh
}

func (w *Worker) startTask(work context.Context, wg *sync.WaitGroup, owner, jobID string, msg jetstream.Msg) {
	w.mu.Lock()
	w.ownerInFlight[owner]++
	w.lastOwner, w.lastJob[owner] = owner, jobID
	w.mu.Unlock()
	w.inflight.Add(1)
	wg.Add(1)
	w.cfg.Metrics.InFlight(1)
	// The slot may be given back before the task is settled (recordDirect).
	freeSlot := sync.OnceFunc(func() { w.release(owner) })
	go func() {
		defer wg.Done()
		defer freeSlot()
		defer w.cfg.Metrics.InFlight(-1)
		w.process(work, msg, freeSlot)
	}()
}

// skip reports an event the worker cannot read and goes on without it.
func (w *Worker) skip(env events.Envelope, err error) {
	w.cfg.Log.Warn("worker: skipping an event it cannot read", "job_id", env.JobID, "seq", env.Seq, "type", env.Type, "v", env.Version, "err", err)
	if w.cfg.OnSkip != nil {
		w.cfg.OnSkip(env, err)
	}
}

func (w *Worker) release(owner string) {
	w.mu.Lock()
	if w.ownerInFlight[owner]--; w.ownerInFlight[owner] <= 0 {
		delete(w.ownerInFlight, owner)
	}
	w.mu.Unlock()
	w.inflight.Add(-1)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) consumer(ctx context.Context, jobID string) jetstream.Consumer {
	w.mu.Lock()
	c := w.consumers[jobID]
	w.mu.Unlock()
	if c != nil {
		return c
	}
	c, err := w.queue.consumer(ctx, jobID)
	if err != nil || c == nil {
		return nil
	}
	w.mu.Lock()
	w.consumers[jobID] = c
	w.mu.Unlock()
	return c
}

func (w *Worker) forgetConsumer(jobID string) {
	w.mu.Lock()
	delete(w.consumers, jobID)
	w.mu.Unlock()
}

// watchControl keeps the job status map current from control events.
func (w *Worker) watchControl(ctx context.Context) {
	for ctx.Err() == nil {
		err := w.store.Follow(ctx, events.SubjectAllControl, 1, func(env events.Envelope) error {
			w.mu.Lock()
			st := w.jobs[env.JobID]
			if st == nil {
				st = jobpkg.New(env.JobID, false)
				w.jobs[env.JobID] = st
			}
			err := st.Apply(env)
			if events.Terminal(st.Status) {
				delete(w.consumers, env.JobID)
			}
			w.mu.Unlock()
			if err != nil {
				// An event this build cannot read: the job's other events
				// still count, and the log line says which one was skipped.
				w.skip(env, err)
			}
			select {
			case w.wake <- struct{}{}:
			default:
			}
			return nil
		})
		if ctx.Err() == nil {
			w.cfg.Log.Warn("worker: control watch stopped, restarting", "err", err)
			w.mu.Lock()
			w.jobs = map[string]*jobpkg.State{}
			w.mu.Unlock()
			time.Sleep(time.Second)
		}
	}
}

// settleLog is how a failed ack/nak is logged: a job that ended (a
// cancel) has its task consumer deleted, so settling its in-flight tasks
// finds no responder; that is expected and logged at debug, not WARN.
func (w *Worker) settleLog(log *slog.Logger, jobID string, err error) func(string, ...any) {
	w.mu.Lock()
	st := w.jobs[jobID]
	ended := st != nil && events.Terminal(st.Status)
	w.mu.Unlock()
	if ended || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		return log.Debug
	}
	return log.Warn
}

// process runs one task and settles its message.
func (w *Worker) process(ctx context.Context, msg jetstream.Msg, freeSlot func()) {
	var t task
	data, err := w.queue.open(ctx, msg)
	if err != nil && !errors.Is(err, errTaskGone) {
		w.cfg.Log.Warn("worker: cannot open a sealed task now; it will be redelivered", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if err == nil {
		err = json.Unmarshal(data, &t)
	}
	if meta, merr := msg.Metadata(); merr == nil {
		t.deliveries = meta.NumDelivered
	}
	if err != nil || !events.ValidJobID(t.JobID) {
		// The body is unusable, but the subject still names job and row.
		parts := strings.Split(msg.Subject(), ".")
		job, row := "", -1
		if len(parts) == 3 {
			job = parts[1]
			if n, err := strconv.Atoi(parts[2]); err == nil {
				row = n
			}
		}
		w.cfg.Log.Error("worker: dropping malformed task", "job_id", job, "row", row, "subject", msg.Subject())
		_ = msg.Term()
		return
	}
	// Every line about a task carries job_id and row, so one document's
	// story can be pulled out of the logs of every worker.
	log := w.cfg.Log.With("job_id", t.JobID, "row", t.Document.Row, "attempt", t.Attempt)
	stop := heartbeat(msg, w.queue.ackWait/3)
	verdict := w.run(ctx, t, freeSlot, log)
	if verdict == settleDone && len(t.Twins) > 0 {
		verdict = w.settleTwins(ctx, t, freeSlot, log)
	}
	stop()
	switch verdict {
	case settleRelease:
		if err := msg.Nak(); err != nil {
			w.settleLog(log, t.JobID, err)("worker: release task", "err", err)
		}
	case settleLater:
		if err := msg.NakWithDelay(2 * time.Second); err != nil {
			w.settleLog(log, t.JobID, err)("worker: postpone task", "err", err)
		}
	case settleDone:
		sctx, cancel := detached(ctx)
		if err := msg.DoubleAck(sctx); err != nil {
			w.settleLog(log, t.JobID, err)("worker: ack task", "err", err)
		}
		w.completeIfLast(sctx, t.JobID, log)
		cancel()
	}
}

type settle int

// rateLimitedDeliveries is the delivery of a task from which a document
// refused (429) until its deadline fails instead of going back: the job
// pauses after UnreachableLimit such documents in a row, but one document
// refused among others that succeed never makes a streak.
const rateLimitedDeliveries = 4

const (
	settleDone    settle = iota // outcome recorded, or nothing left to do
	settleRelease               // give the task back (paused, shutting down)
	settleLater                 // give the task back after a pause (a dependency hiccup)
)

// errRetryLater marks a failure that says nothing about the document.
var errRetryLater = errors.New("temporarily unavailable")

// run decides, starts, tags and records one document attempt.
func (w *Worker) run(ctx context.Context, t task, freeSlot func(), log *slog.Logger) settle {
	cached, hit, read := w.probe(ctx, t)
	if hit {
		ev := events.DocumentTagged{Row: t.Document.Row, Attempt: t.Attempt, Tags: cached.Tags, Metadata: withModel(cached.Metadata, t)}
		return w.recordDirect(ctx, t, ev, "tagged", "", freeSlot, log)
	}
	// The key is read before the start is recorded: a start given back
	// without an outcome counts towards quarantine (see begin), and a
	// secret store hiccup says nothing about the document.
	key, kerr := w.apiKey(ctx, t)
	if errors.Is(kerr, errRetryLater) {
		log.Warn("worker: document postponed", "err", kerr)
		return settleLater
	}
	startedSeq, verdict, done, err := w.begin(ctx, t, log)
	if err != nil {
		log.Warn("worker: cannot start document", "err", err)
		return settleRelease
	}
	if startedSeq == 0 {
		return verdict
	}
	defer done()
	began := time.Now()
	var out pipeline.TagOutput
	terr := kerr
	if terr == nil {
		out, terr = w.tag(ctx, t, key, read)
	}
	took := time.Since(began)
	if terr != nil && ctx.Err() != nil {
		// Shutting down: another worker redoes it.
		return w.giveBack(ctx, t, startedSeq, settleRelease, "shutdown", "the worker stopped before the document was done", log)
	}
	if errors.Is(terr, errRetryLater) {
		log.Warn("worker: document postponed", "err", terr)
		return w.giveBack(ctx, t, startedSeq, settleLater, "postponed", terr.Error(), log)
	}
	var ev events.Event
	outcome, code := "tagged", ""
	if terr == nil {
		if out.Metadata.Calls > 0 {
			w.streaks.reset(t.JobID) // the model answered
		}
		ev = events.DocumentTagged{Row: t.Document.Row, Attempt: t.Attempt, Tags: out.Tags, Metadata: withModel(out.Metadata, t)}
	} else {
		f := pipeline.AsFailure(terr)
		if f.Unreachable && f.Code == pipeline.CodeModelRateLimited && t.deliveries >= rateLimitedDeliveries {
			// The provider refuses this document whatever the pace (a
			// request over its per-minute token limit, say): it fails
			// rather than come back for ever while the others succeed.
			f.Unreachable = false
		}
		if f.Unreachable {
			uctx, cancel := detached(ctx)
			defer cancel()
			v := w.unreachable(uctx, t, f, log)
			return w.giveBack(ctx, t, startedSeq, v, f.Code, f.Reason, log)
		}
		outcome, code = "failed", f.Code
		if f.JobFatal {
			log.Warn("worker: failing the job", "code", f.Code, "reason", f.Reason)
			w.failJob(ctx, t, f, log)
			w.cfg.Metrics.DocumentDone(outcome, code, took)
			return settleDone
		}
		ev = events.DocumentFailed{Row: t.Document.Row, Attempt: t.Attempt, Error: f.Reason, Code: f.Code, Metadata: withModel(f.Metadata, t)}
	}
	env, err := events.New(t.JobID, w.actor, ev)
	if err != nil {
		return settleRelease
	}
	sctx, cancel := detached(ctx)
	seq, err := w.store.Append(sctx, env, &events.Expect{Subject: events.DocSubject(t.JobID, t.Document.Row), Seq: startedSeq})
	cancel()
	switch {
	case errors.Is(err, events.ErrConflict):
		log.Info("worker: another worker took this document over; dropping my outcome")
	case err != nil:
		log.Warn("worker: record outcome", "err", err)
		return settleRelease
	default:
		// Counted only once recorded, so metrics agree with the log.
		w.cfg.Metrics.DocumentDone(outcome, code, took)
		log.Debug("worker: document done", "outcome", outcome, "code", code, "ms", took.Milliseconds())
		if terr == nil && out.CacheKey != "" && w.cfg.Cache != nil {
			// Written after the append, so an entry always names a
			// recorded event; a lost write only costs a model call later.
			cctx, cancel := detached(ctx)
			defer cancel()
			if err := w.cfg.Cache.Put(cctx, out.CacheKey, pipeline.CacheEntry{Seq: seq, Tags: out.Tags, JobID: t.JobID}); err != nil {
				log.Warn("worker: remember tags in the content cache", "err", err)
			}
		}
	}
	return settleDone
}

// begin appends DocumentStarted guarded by the job's control sequence, so
// no document starts after a pause or cancel that the worker did not see,
// and none of an attempt that is no longer the job's. It returns the
// start's sequence, or 0 with how to settle the task.
//
// A document whose attempt was started PoisonAfter times without an
// outcome is quarantined here instead: it fails with code "poison" and is
// not started again.
func (w *Worker) begin(ctx context.Context, t task, log *slog.Logger) (uint64, settle, func(), error) {
	var held *hold
	fail := func(v settle, err error) (uint64, settle, func(), error) {
		held.release()
		return 0, v, nil, err
	}
	for i := 0; i < 10; i++ {
		job, err := w.jobAt(ctx, t.JobID)
		if err != nil {
			return fail(settleRelease, err)
		}
		switch job.CanStart(t.Attempt) {
		case jobpkg.StartNever:
			return fail(settleDone, nil)
		case jobpkg.StartLater:
			return fail(settleRelease, nil)
		}
		doc, err := w.store.Last(ctx, events.DocSubject(t.JobID, t.Document.Row))
		if err != nil && !errors.Is(err, events.ErrNotFound) {
			return fail(settleRelease, err)
		}
		found := err == nil
		if found && jobpkg.TaskStale(doc, t.Attempt) {
			return fail(settleDone, nil)
		}
		suspect := found && jobpkg.Suspect(doc, t.Attempt)
		if held == nil || held.alone != suspect {
			// Wait for the right to start, then look again: the log may
			// have moved on meanwhile.
			held.release()
			held = w.hold(suspect, log)
			continue
		}
		if suspect {
			quarantined, err := w.quarantine(ctx, t, doc, log)
			if errors.Is(err, events.ErrConflict) {
				continue // the document moved on: look again
			}
			if quarantined || err != nil {
				return fail(settleDone, err)
			}
		}
		env, err := events.New(t.JobID, w.actor, events.DocumentStarted{Row: t.Document.Row, Attempt: t.Attempt})
		if err != nil {
			return fail(settleRelease, err)
		}
		seq, err := w.store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(t.JobID), Seq: job.ControlSeq})
		if errors.Is(err, events.ErrConflict) {
			continue // the job changed under us: look again
		}
		if err != nil {
			return fail(settleRelease, err)
		}
		return seq, settleDone, held.release, nil
	}
	return fail(settleRelease, errors.New("job kept changing"))
}

// giveBack records that this worker hands a started attempt back without
// an outcome (DocumentReleased, guarded by its own start), so the start is
// not taken for a death of the process towards quarantine. If the append
// fails the task is given back all the same: the cost is one start counted
// against the document, never a lost document.
func (w *Worker) giveBack(ctx context.Context, t task, startedSeq uint64, v settle, code, reason string, log *slog.Logger) settle {
	env, err := events.New(t.JobID, w.actor, events.DocumentReleased{Row: t.Document.Row, Attempt: t.Attempt, Reason: reason, Code: code})
	if err != nil {
		return v
	}
	sctx, cancel := detached(ctx)
	defer cancel()
	if _, err := w.store.Append(sctx, env, &events.Expect{Subject: events.DocSubject(t.JobID, t.Document.Row), Seq: startedSeq}); err != nil && !errors.Is(err, events.ErrConflict) {
		log.Warn("worker: record the release of a started document", "err", err)
	}
	return v
}

// jobAt returns the job's state as of its last control event: the copy
// the control watch keeps when it is current, else folded from the log.
func (w *Worker) jobAt(ctx context.Context, jobID string) (*jobpkg.State, error) {
	ctl, err := w.store.Last(ctx, events.ControlSubject(jobID))
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	if st := w.jobs[jobID]; st != nil && st.ControlSeq == ctl.Seq {
		cp := *st
		w.mu.Unlock()
		return &cp, nil
	}
	w.mu.Unlock()
	return jobpkg.Load(ctx, w.store, jobID, ctl.Seq)
}

// apiKey returns the key task t is tagged with.
func (w *Worker) apiKey(ctx context.Context, t task) (string, error) {
	switch t.Config.KeySource {
	case "job":
		key, found, err := w.secrets.Lookup(ctx, jobpkg.SecretID(t.JobID, t.Attempt))
		if err != nil {
			// The store is briefly unreachable (a leader election, say):
			// that is no reason to fail the document.
			return "", fmt.Errorf("%w: read the job's API key: %v", errRetryLater, err)
		}
		if !found || key == "" {
			return "", &pipeline.Failure{Code: "api_key_missing", Reason: "the job's API key is no longer available; retry the job with a new key"}
		}
		return key, nil
	case "server":
		return w.cfg.ServerAPIKey, nil
	}
	return "", nil
}

func (w *Worker) tag(ctx context.Context, t task, key string, read *pipeline.Probe) (pipeline.TagOutput, error) {
	in := pipeline.TagInput{JobID: t.JobID, Attempt: t.Attempt, Document: t.Document, Config: t.Config, APIKey: key, Probe: read}
	if w.cfg.Cache != nil {
		in.Cache, in.Owner = w.cfg.Cache, w.owner(ctx, t.JobID)
	}
	dctx, cancel := context.WithTimeout(ctx, w.cfg.DocTimeout)
	defer cancel()
	return w.tagger.Tag(dctx, in)
}

// failJob fails the job of task t as a whole, unless t's attempt is no
// longer the live one: a 401 of an attempt that a retry has replaced must
// not fail the retry, purge its tasks or drop its key.
func (w *Worker) failJob(ctx context.Context, t task, f *pipeline.Failure, log *slog.Logger) {
	err := jobpkg.WithRetry(ctx, 10, func() error {
		job, err := w.jobAt(ctx, t.JobID)
		if err != nil {
			return err
		}
		if !job.CanFail(t.Attempt) {
			log.Info("worker: not failing the job: its attempt is over", "job_attempt", job.Attempt, "job_status", job.Status)
			return nil
		}
		env, err := events.New(t.JobID, w.actor, events.JobFailed{Reason: f.Reason, Code: f.Code})
		if err != nil {
			return err
		}
		_, err = w.store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(t.JobID), Seq: job.ControlSeq})
		return err
	})
	if err != nil {
		log.Error("worker: fail job", "err", err)
	}
}

// completeIfLast completes the job when its consumer has nothing left,
// neither waiting nor in flight. The ack before it is synchronous, so the
// worker acking the last task always sees an empty consumer.
func (w *Worker) completeIfLast(ctx context.Context, jobID string, log *slog.Logger) {
	if cons := w.consumer(ctx, jobID); cons != nil {
		info, err := cons.Info(ctx)
		if err == nil && (info.NumPending > 0 || info.NumAckPending > 0) {
			return
		}
	}
	// Tasks acked together all see an empty consumer: one of them reads
	// the job's log and the others share its answer. Every outcome was
	// recorded before its ack, so the shared check already sees them all.
	_, err, _ := w.completing.Do(jobID, func() (any, error) {
		return nil, services.CompleteIfDone(ctx, w.store, jobID)
	})
	if err != nil {
		log.Warn("worker: complete job", "err", err)
	}
}

// heartbeat tells JetStream the task is still being worked on, so a slow
// document is not handed to a second worker; a dead worker stops beating
// and its task is redelivered after AckWait.
func heartbeat(msg jetstream.Msg, every time.Duration) func() {
	if every <= 0 {
		every = time.Second
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// withModel records the job's model for taggers that did not.
func withModel(md events.TagMetadata, t task) events.TagMetadata {
	if md.Model == "" {
		md.Model = t.Config.Model
	}
	return md
}
