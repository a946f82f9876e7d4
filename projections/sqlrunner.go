package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// Projection states, as /api/ready and the metrics show them.
const (
	StateRunning    = "running"
	StateRebuilding = "rebuilding" // the next generation is being built; the serving one still answers
	StateFailed     = "failed"     // stopped at FailedSeq; the others keep going
	stateRetired    = "retired"    // an old generation after a switch
	stateDropping   = "dropping"   // claimed by DropRetired, its tables going
)

// Default batch bounds: a batch commits at BatchSize events, after
// BatchWait, or at once when the runner has caught up with the log.
const (
	DefaultBatchSize = 500
	DefaultBatchWait = 250 * time.Millisecond
	// DefaultCatchUpBatch is the batch size while the runner or a rebuild
	// is far behind the log.
	DefaultCatchUpBatch = 5000
)

// ErrModelFailed is returned by WaitFor when a model the caller may read
// stopped before the awaited event: its answer would be stale.
var ErrModelFailed = errors.New("read model failed")

// ModelStatus is one model's position, for /api/ready and the metrics.
type ModelStatus struct {
	Name       string    `json:"name"`
	Version    int       `json:"version"`
	Generation int       `json:"generation"`
	State      string    `json:"state"`
	Seq        uint64    `json:"seq"`
	FailedSeq  uint64    `json:"failed_seq,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Updated    time.Time `json:"updated"`
	// Rebuild is set while a next generation is being built.
	Rebuild *Progress `json:"rebuild,omitempty"`
	// LagEvents and LagSeconds say how far behind the log's last sequence
	// (as given to StatusAt) the model is: 0 when caught up.
	LagEvents  uint64  `json:"lag_events"`
	LagSeconds float64 `json:"lag_seconds"`
}

// modelRun is the runner's view of one model.
type modelRun struct {
	m SQLModel
	// Guarded by SQLRunner.mu.
	gen       int
	version   int    // the serving generation's version (another release's until rebuilt)
	seq       uint64 // committed checkpoint
	state     string
	failedSeq uint64
	reason    string
	updated   time.Time
	lastTime  time.Time // when the newest committed event was written
	rebuild   *Progress
}

// SQLRunner applies the log to SQL read models. Each model has its own
// checkpoint row (name, generation, version, seq, state), moved in the same
// transaction as the model's writes, so a restart resumes exactly where
// the last commit stopped and no event is applied twice. The models share
// one ordered reader and one transaction per batch: a commit moves every
// running model to the same sequence, so a Tap's snapshot sees all of them
// as of one committed checkpoint. Each model's writes in a batch sit in a
// savepoint: a model whose Apply fails is rolled back alone, marked failed
// with the sequence and reason, and skipped from then on.
type SQLRunner struct {
	db     *sqldb.DB
	src    Source
	models []*modelRun
	skips  *events.Skips

	BatchSize int
	BatchWait time.Duration
	// CatchUpBatch is the batch size while far behind the log (0: see
	// catchUpBatch).
	CatchUpBatch int
	// RetiredGrace is how long after a switch DropRetired leaves the
	// retired generation: processes sharing the database serve it until
	// they notice the switch (a follower's or an idle holder's next poll,
	// a busy holder's next batch). 0: dropped at once (one process).
	RetiredGrace time.Duration
	// RebuildSkips, if set, counts the unknown events a rebuild passes
	// (the live runner counts its own in CountSkips's).
	RebuildSkips *events.Skips
	// switchMargin, if set, replaces switchMargin (tests: a small log
	// still has a bulk load and a last stretch).
	switchMargin uint64
	// heartbeatEvery, if set, replaces heartbeatEvery (tests).
	heartbeatEvery time.Duration

	// pubMu is held across a batch's commit and its delivery to taps, and
	// by Tap around its snapshot: a snapshot is always of a committed
	// checkpoint whose events have all been delivered.
	pubMu   sync.Mutex
	taps    map[int]func(events.Envelope) bool
	nextTap int

	// shared is set when other processes share the database (sqlshare.go).
	shared *sharing

	// applyMu serialises batches with generation switches.
	applyMu sync.Mutex

	mu       sync.Mutex
	applied  uint64 // every model at or past it (or failed before it)
	lastTime time.Time
	changed  chan struct{}
	headSeq  uint64 // newest sequence seen in the log, for lag
	headTime time.Time
	caughtUp time.Time // the last commit that emptied the reader's buffer
}

// NewSQLRunner returns a runner for the models over db. Call Open before
// CatchUp or Run.
func NewSQLRunner(db *sqldb.DB, src Source, models ...SQLModel) *SQLRunner {
	r := &SQLRunner{db: db, src: src, BatchSize: DefaultBatchSize, BatchWait: DefaultBatchWait,
		taps: map[int]func(events.Envelope) bool{}, changed: make(chan struct{})}
	for _, m := range models {
		r.models = append(r.models, &modelRun{m: m})
	}
	return r
}

// CountSkips makes the runner report the events it skips (a type or
// version this build does not know) to s. Call it before CatchUp or Run.
func (r *SQLRunner) CountSkips(s *events.Skips) { r.skips = s }

// DB is the read database, for the models' readers.
func (r *SQLRunner) DB() *sqldb.DB { return r.db }

// Open applies the framework's migrations and loads (or creates) each
// model's serving generation and checkpoint. Retired generations stay
// until DropRetired. A model whose serving
// generation has another version is reported as needing a rebuild
// (NeedsRebuild) and keeps serving its old tables until it is rebuilt.
func (r *SQLRunner) Open(ctx context.Context) error {
	if err := migrate(ctx, r.db); err != nil {
		return err
	}
	for _, mr := range r.models {
		if err := r.load(ctx, mr); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.applied = r.minSeqLocked()
	r.mu.Unlock()
	return r.loadSkips(ctx)
}

// loadSkips reports the skipped events behind the checkpoints that this
// build still does not know, as if they had just been skipped.
func (r *SQLRunner) loadSkips(ctx context.Context) error {
	if r.skips == nil {
		return nil
	}
	rows, err := r.db.Query(ctx, `SELECT seq, type, version FROM projection_skips WHERE seq <= ? ORDER BY seq`, int64(r.Applied()))
	if err != nil {
		return fmt.Errorf("read db: skipped events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var env events.Envelope
		var seq int64
		if err := rows.Scan(&seq, &env.Type, &env.Version); err != nil {
			return err
		}
		env.Seq = uint64(seq)
		if v := events.Types.Version(env.Type); v == 0 || env.Version > v {
			r.skips.Skip(events.ReaderProjections, env, errors.New("skipped before this start"))
		}
	}
	return rows.Err()
}

// load reads a model's serving checkpoint, creating generation 1 if none.
func (r *SQLRunner) load(ctx context.Context, mr *modelRun) error {
	name := mr.m.Name()
	var (
		gen, version       int
		seq, failedSeq, up int64
		state, reason      string
	)
	err := r.db.QueryRow(ctx, `SELECT generation, version, seq, state, failed_seq, reason, updated
		FROM projection_checkpoints WHERE name = ? AND serving = 1`, name).
		Scan(&gen, &version, &seq, &state, &failedSeq, &reason, &up)
	if errors.Is(err, sql.ErrNoRows) {
		if err := r.createGeneration(ctx, mr.m, 1, true); err != nil {
			return err
		}
		gen, version, state = 1, mr.m.Version(), StateRunning
		seq, failedSeq, reason, up = 0, 0, "", time.Now().UnixNano()
	} else if err != nil {
		return fmt.Errorf("read db: checkpoint of %s: %w", name, err)
	}
	if version != mr.m.Version() && state != StateFailed {
		// Written by another release: this build's Apply may not fit its
		// tables, so it is not applied to until a rebuild replaces it.
		state = StateRebuilding
	}
	r.mu.Lock()
	mr.gen, mr.version, mr.seq, mr.state, mr.failedSeq, mr.reason = gen, version, uint64(seq), state, uint64(failedSeq), reason
	mr.updated = time.Unix(0, up)
	r.mu.Unlock()
	return nil
}

// createGeneration makes generation gen of m's tables and its checkpoint
// row in one transaction.
func (r *SQLRunner) createGeneration(ctx context.Context, m SQLModel, gen int, serving bool) error {
	_, err := r.createGenerationAt(ctx, m, func(*sqldb.Tx) (int, error) { return gen, nil }, serving)
	return err
}

// createGenerationAt is createGeneration with the generation chosen inside
// the transaction. On PostgreSQL the transaction first takes an advisory
// lock: processes starting together (or two rebuilds) would otherwise run
// CREATE TABLE IF NOT EXISTS for the same name at once, which PostgreSQL
// refuses with a unique violation in pg_type, or pick the same next
// generation.
func (r *SQLRunner) createGenerationAt(ctx context.Context, m SQLModel, pick func(*sqldb.Tx) (int, error), serving bool) (int, error) {
	tx, err := r.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if tx.Dialect() == sqldb.Postgres {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tagstream projection generations'))`); err != nil {
			return 0, fmt.Errorf("read db: lock generations: %w", err)
		}
	}
	gen, err := pick(tx)
	if err != nil {
		return 0, err
	}
	if err := m.Create(ctx, tx, tablesFor(m.Name(), gen)); err != nil {
		return 0, fmt.Errorf("read db: create %s generation %d: %w", m.Name(), gen, err)
	}
	state, srv := StateRunning, 1
	if !serving {
		state, srv = StateRebuilding, 0
	}
	if _, err := tx.Exec(ctx, `INSERT INTO projection_checkpoints
		(name, generation, version, seq, state, failed_seq, reason, serving, updated)
		VALUES (?, ?, ?, 0, ?, 0, '', ?, ?)`, m.Name(), gen, m.Version(), state, srv, time.Now().UnixNano()); err != nil {
		return 0, fmt.Errorf("read db: checkpoint of %s generation %d: %w", m.Name(), gen, err)
	}
	return gen, tx.Commit()
}

// NeedsRebuild lists the models whose serving generation was built by
// another version of their code and that no rebuild is replacing yet.
func (r *SQLRunner) NeedsRebuild() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, mr := range r.models {
		if mr.state == StateRebuilding && mr.rebuild == nil {
			out = append(out, mr.m.Name())
		}
	}
	return out
}

// run is the named model's run, nil if the runner has none (the list is
// fixed at NewSQLRunner; the run's fields are r.mu's).
func (r *SQLRunner) run(model string) *modelRun {
	for _, mr := range r.models {
		if mr.m.Name() == model {
			return mr
		}
	}
	return nil
}

// Tables names the serving generation of the model's tables; readers call
// it per query, so a switch is seen at once.
func (r *SQLRunner) Tables(model string) Tables {
	mr := r.run(model)
	if mr == nil {
		return tablesFor(model, 1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return tablesFor(model, mr.gen)
}

// ServingVersion is the version of the code that built model's serving
// tables: readers of a newer version read an older one's tables (until
// its rebuild switches) without the columns it lacks. 0: no such model.
func (r *SQLRunner) ServingVersion(model string) int {
	mr := r.run(model)
	if mr == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return mr.version
}

// minSeqLocked is the lowest checkpoint of the models being applied.
func (r *SQLRunner) minSeqLocked() uint64 {
	var min uint64
	first := true
	for _, mr := range r.models {
		if mr.state != StateRunning {
			continue
		}
		if first || mr.seq < min {
			min, first = mr.seq, false
		}
	}
	if first {
		return r.applied
	}
	return min
}

// CatchUp applies every event up to the end of the log as it is now.
func (r *SQLRunner) CatchUp(ctx context.Context) error {
	if r.shared != nil {
		return r.catchUpShared(ctx)
	}
	return r.consume(ctx, false)
}

// Run applies events as they arrive until ctx is done.
func (r *SQLRunner) Run(ctx context.Context) error {
	if r.shared != nil {
		return r.runShared(ctx)
	}
	return r.consume(ctx, true)
}

// consume reads the log from the lowest checkpoint and applies it in
// batches. Reading runs in its own goroutine so a batch can tell "more is
// waiting" (keep filling) from "caught up" (commit now, for low latency).
func (r *SQLRunner) consume(ctx context.Context, follow bool) error {
	r.mu.Lock()
	// From the lowest checkpoint, or from the last event observers got if
	// that is lower (another process moved the checkpoints past it: the
	// models skip what they hold, the taps still get every event).
	from := min(r.minSeqLocked(), r.applied) + 1
	r.mu.Unlock()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, readErr := r.readLog(rctx, follow, from)
	batch := make([]events.Envelope, 0, r.batchSize())
	idle := r.idleCheck()
	defer idle.Stop()
	for {
		var env events.Envelope
		var ok bool
		select {
		case env, ok = <-ch:
			idle.Reset(r.idlePoll())
		case <-idle.C:
			// No event for a while: a rebuild by another process may have
			// switched a generation, which only a failed batch claim would
			// otherwise reveal; until then this process served the retired
			// generation (and answered 503 once it was dropped). A query
			// that fails is asked again at the next tick.
			if moved, err := r.generationsMoved(ctx); err != nil || !moved {
				continue
			}
			cancel()
			for range ch {
			}
			<-readErr
			r.applyMu.Lock() // as a batch's claim reloads: never beside a switch
			err := r.reload(ctx)
			r.applyMu.Unlock()
			if err != nil {
				return err
			}
			return r.consume(ctx, follow)
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			err := <-readErr
			if errors.Is(err, context.Canceled) && ctx.Err() == nil {
				err = nil
			}
			return err
		}
		// Far behind the log (a full buffer), larger batches: fewer
		// commits and fewer reads of the same rows.
		limit := r.batchSize()
		if len(ch) >= limit {
			limit = r.catchUpBatch()
		}
		batch = fillBatch(ch, append(batch[:0], env), limit, time.Now().Add(r.batchWait()))
		if err := r.applyBatch(ctx, batch, len(ch) == 0); err != nil {
			if errors.Is(err, errGenerationMoved) {
				// Another process switched a model's generation: resume
				// from the reloaded checkpoints.
				cancel()
				for range ch {
				}
				<-readErr
				return r.consume(ctx, follow)
			}
			return err
		}
	}
}

// DefaultRetiredGrace is RetiredGrace for processes that may share the
// read database: far longer than a poll (DefaultSharePoll).
const DefaultRetiredGrace = time.Minute

// idleCheck ticks while the runner waits for the log. Another process may
// switch a generation in the same database: a serve sharing PostgreSQL,
// or the projections command beside serve on its SQLite file (the
// runner's own rebuilds switch under applyMu and update it directly).
func (r *SQLRunner) idleCheck() *time.Ticker { return time.NewTicker(r.idlePoll()) }

func (r *SQLRunner) idlePoll() time.Duration {
	if r.shared != nil {
		return r.shared.Poll
	}
	return DefaultSharePoll
}

// generationsMoved reports whether any model's serving generation in the
// database is not the one this runner applies to.
func (r *SQLRunner) generationsMoved(ctx context.Context) (bool, error) {
	rows, err := r.db.Query(ctx, `SELECT name, generation FROM projection_checkpoints WHERE serving = 1`)
	if err != nil {
		return false, fmt.Errorf("read db: serving generations: %w", err)
	}
	defer rows.Close()
	serving := map[string]int{}
	for rows.Next() {
		var name string
		var gen int
		if err := rows.Scan(&name, &gen); err != nil {
			return false, err
		}
		serving[name] = gen
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, mr := range r.models {
		if g, ok := serving[mr.m.Name()]; ok && g != mr.gen {
			return true, nil
		}
	}
	return false, nil
}

// readLog reads the log from seq from (following it if follow) into the
// returned channel, in its own goroutine, so a batch can tell "more is
// waiting" from "caught up". The channel closes when reading stops; the
// reason is then on the error channel.
func (r *SQLRunner) readLog(ctx context.Context, follow bool, from uint64) (<-chan events.Envelope, <-chan error) {
	ch := make(chan events.Envelope, 2*r.catchUpBatch())
	readErr := make(chan error, 1)
	go func() {
		defer close(ch)
		push := func(env events.Envelope) error {
			// Decoded here, beside the batch being written: an error
			// is left for applyBatch to meet again.
			_ = env.Load()
			select {
			case ch <- env:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if follow {
			readErr <- r.src.Follow(ctx, events.SubjectAll, from, push)
		} else {
			readErr <- r.src.Read(ctx, events.SubjectAll, from, push)
		}
	}()
	return ch, readErr
}

// fillBatch adds what is already waiting on ch to batch, up to size events
// or the deadline; it stops early once caught up (commit now).
func fillBatch(ch <-chan events.Envelope, batch []events.Envelope, size int, deadline time.Time) []events.Envelope {
	for len(batch) < size && time.Now().Before(deadline) {
		select {
		case env, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, env)
		default:
			return batch // caught up
		}
	}
	return batch
}

func (r *SQLRunner) batchSize() int {
	if r.BatchSize <= 0 {
		return DefaultBatchSize
	}
	return r.BatchSize
}

// catchUpBatch is the batch size while far behind: CatchUpBatch, or
// DefaultCatchUpBatch unless BatchSize was set to something else (tests
// that choose their batch size get exactly it).
func (r *SQLRunner) catchUpBatch() int {
	switch {
	case r.CatchUpBatch > 0:
		return max(r.CatchUpBatch, r.batchSize())
	case r.BatchSize <= 0 || r.BatchSize == DefaultBatchSize:
		return DefaultCatchUpBatch
	}
	return r.batchSize()
}

func (r *SQLRunner) batchWait() time.Duration {
	if r.BatchWait <= 0 {
		return DefaultBatchWait
	}
	return r.BatchWait
}

// errGenerationMoved: a checkpoint this runner writes is no longer as it
// left it (another process advanced it, or a rebuild elsewhere switched
// its generation); the runner reloads every checkpoint and resumes.
var errGenerationMoved = errors.New("read model checkpoint moved")

// reloadAll rereads every model's serving checkpoint and returns
// errGenerationMoved (or the error that stopped the reload).
func (r *SQLRunner) reloadAll(ctx context.Context) error {
	if err := r.reload(ctx); err != nil {
		return err
	}
	return errGenerationMoved
}

// applyBatch applies a batch to every running model in one transaction,
// moves their checkpoints, commits, then publishes.
func (r *SQLRunner) applyBatch(ctx context.Context, batch []events.Envelope, caughtUp bool) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	loaded := make([]events.Envelope, 0, len(batch))
	var skipped []events.Envelope // Type: what the skip is recorded under
	for _, env := range batch {
		err := env.Load()
		switch {
		case events.IsUnknown(err):
			// Written by a newer release, or not decodable at all:
			// skipped, counted (durably, for the next start), never shown
			// to observers; the checkpoints still pass it.
			if env.Seq > r.Applied() {
				r.skips.Skip(events.ReaderProjections, env, err)
				env.Type = events.SkipType(env, err)
				skipped = append(skipped, env)
			}
			continue
		case err != nil:
			return fmt.Errorf("seq %d: %w", env.Seq, err)
		}
		loaded = append(loaded, env)
	}
	last := batch[len(batch)-1]
	// pubMu before the transaction, not between its writes and its commit:
	// a tap's snapshot (an observer's catch-up) holds it, and a transaction
	// left idle behind it for longer than sqldb.IdleInTransaction is ended
	// by PostgreSQL.
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	tx, err := r.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("read db: %w", err)
	}
	defer tx.Rollback()
	for _, env := range skipped {
		if _, err := tx.Exec(ctx, `INSERT INTO projection_skips (seq, type, version) VALUES (?, ?, ?) ON CONFLICT (seq) DO NOTHING`,
			int64(env.Seq), env.Type, env.Version); err != nil {
			return fmt.Errorf("read db: record a skipped event: %w", err)
		}
	}
	type next struct {
		mr        *modelRun
		seq       uint64
		state     string
		failedSeq uint64
		reason    string
	}
	now := time.Now()
	var moves []next
	r.mu.Lock()
	runs := make([]*modelRun, 0, len(r.models))
	for _, mr := range r.models {
		if mr.state == StateRunning {
			runs = append(runs, mr)
		}
	}
	r.mu.Unlock()
	for _, mr := range runs {
		r.mu.Lock()
		gen, from := mr.gen, mr.seq
		r.mu.Unlock()
		n := next{mr: mr, seq: last.Seq, state: StateRunning}
		if from >= last.Seq {
			continue // already past this batch (after a reload)
		}
		// Claim the checkpoint first, as it was when this runner last
		// committed: on PostgreSQL the row lock makes another process
		// applying the same model wait here, then find the checkpoint
		// moved and reload instead of applying the same events again.
		res, err := tx.Exec(ctx, `UPDATE projection_checkpoints SET updated = ?
			WHERE name = ? AND generation = ? AND serving = 1 AND seq = ? AND state = ?`,
			now.UnixNano(), mr.m.Name(), gen, int64(from), StateRunning)
		if err != nil {
			return fmt.Errorf("read db: checkpoint of %s: %w", mr.m.Name(), err)
		}
		if k, err := res.RowsAffected(); err == nil && k == 0 {
			tx.Rollback()
			return r.reloadAll(ctx)
		}
		if err := applyModel(ctx, tx, mr.m, tablesFor(mr.m.Name(), gen), loaded, from); err != nil {
			var me *modelError
			if !errors.As(err, &me) {
				return err
			}
			n.seq, n.state, n.failedSeq, n.reason = me.seq-1, StateFailed, me.seq, me.err.Error()
		}
		res, err = tx.Exec(ctx, `UPDATE projection_checkpoints SET seq = ?, state = ?, failed_seq = ?, reason = ?, updated = ?
			WHERE name = ? AND generation = ? AND serving = 1`,
			int64(n.seq), n.state, int64(n.failedSeq), n.reason, now.UnixNano(), mr.m.Name(), gen)
		if err != nil {
			return fmt.Errorf("read db: checkpoint of %s: %w", mr.m.Name(), err)
		}
		if k, err := res.RowsAffected(); err == nil && k == 0 {
			tx.Rollback()
			return r.reloadAll(ctx)
		}
		moves = append(moves, n)
	}
	if err := r.mayCommit(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("read db: commit: %w", err)
	}
	r.mu.Lock()
	for _, n := range moves {
		n.mr.seq, n.mr.state, n.mr.failedSeq, n.mr.reason, n.mr.updated = n.seq, n.state, n.failedSeq, n.reason, now
		if n.state == StateRunning {
			n.mr.lastTime = last.Time
		}
	}
	if caughtUp {
		r.caughtUp = now
	}
	prev := r.applied
	r.mu.Unlock()
	for _, env := range loaded {
		if env.Seq <= prev {
			continue // re-applied to a switched generation: observers had it
		}
		for id, tap := range r.taps {
			if !tap(env) {
				delete(r.taps, id)
			}
		}
	}
	r.mu.Lock()
	if last.Seq > r.applied {
		r.applied = last.Seq
		r.lastTime = last.Time
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	r.announce(last.Seq)
	return nil
}

// modelError is a model's own failure at one event.
type modelError struct {
	seq uint64
	err error
}

func (e *modelError) Error() string { return fmt.Sprintf("seq %d: %v", e.seq, e.err) }

// applyModel folds the events after from into one model inside a
// savepoint. On failure at event s the savepoint is rolled back and the
// events before s are applied again, so the checkpoint can stop at s-1.
func applyModel(ctx context.Context, tx *sqldb.Tx, m SQLModel, t Tables, evs []events.Envelope, from uint64) error {
	if _, err := tx.Exec(ctx, "SAVEPOINT model_batch"); err != nil {
		return err
	}
	if ba, ok := m.(BatchApplier); ok {
		if err := ba.ApplyBatch(ctx, tx, t, after(evs, from)); err == nil {
			_, err := tx.Exec(ctx, "RELEASE SAVEPOINT model_batch")
			return err
		}
		// Find the event that fails, one at a time.
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT model_batch"); err != nil {
			return err
		}
	}
	failAt := uint64(0)
	var failErr error
	for _, env := range evs {
		if env.Seq <= from {
			continue
		}
		if err := m.Apply(ctx, tx, t, env); err != nil {
			failAt, failErr = env.Seq, err
			break
		}
	}
	if failAt == 0 {
		_, err := tx.Exec(ctx, "RELEASE SAVEPOINT model_batch")
		return err
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT model_batch"); err != nil {
		return err
	}
	for _, env := range evs {
		if env.Seq <= from || env.Seq >= failAt {
			continue
		}
		if err := m.Apply(ctx, tx, t, env); err != nil {
			// Not reproducible: stop before the whole batch instead.
			if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT model_batch"); rerr != nil {
				return rerr
			}
			return &modelError{seq: firstAfter(evs, from), err: err}
		}
	}
	if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT model_batch"); err != nil {
		return err
	}
	return &modelError{seq: failAt, err: failErr}
}

// after is the events of evs after sequence from.
func after(evs []events.Envelope, from uint64) []events.Envelope {
	for i, env := range evs {
		if env.Seq > from {
			return evs[i:]
		}
	}
	return nil
}

func firstAfter(evs []events.Envelope, from uint64) uint64 {
	for _, env := range evs {
		if env.Seq > from {
			return env.Seq
		}
	}
	return from + 1
}
