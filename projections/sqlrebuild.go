package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// ErrRebuildRunning: the model is already being rebuilt.
var ErrRebuildRunning = errors.New("already being rebuilt")

// Progress is how far a rebuild has got.
type Progress struct {
	Model   string        `json:"model"`
	Phase   string        `json:"phase"` // PhaseLoading, PhaseIndexing or PhaseSwitching
	Done    uint64        `json:"done"`  // events applied to the next generation
	Total   uint64        `json:"total"` // the sequence the rebuild is heading for (the log's end, moving as it grows)
	Rate    float64       `json:"rate"`  // events per second so far
	ETA     time.Duration `json:"eta_ns"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// A rebuild's phases: it loads the log into the new generation, then
// (for a model with indexes built after the load) builds them, during
// which Done does not move, then applies the last events and switches.
const (
	PhaseLoading   = "loading"
	PhaseIndexing  = "indexing"
	PhaseSwitching = "switching"
)

// switchMargin: the builder catches up in batches until it is this close
// to the serving generation, then pauses the runner for the last stretch.
const switchMargin = 2000

// Rebuild builds the next generation of the named model beside the serving
// one, which keeps answering and applying, then switches over in one
// transaction (the old generation's checkpoint row stops serving, the new
// one starts, at the same sequence). progress, if set, is called after
// every batch. The old generation's tables are dropped at the next Open.
func (r *SQLRunner) Rebuild(ctx context.Context, name string, progress func(Progress)) error {
	mr := r.run(name)
	if mr == nil {
		return fmt.Errorf("no read model %q", name)
	}
	// One rebuild of a model at a time: a second (an operator asking
	// twice, or OnLead again when the runner is paused for a switch)
	// would build yet another generation for nothing.
	r.mu.Lock()
	if mr.rebuild != nil {
		r.mu.Unlock()
		return fmt.Errorf("read model %q: %w", name, ErrRebuildRunning)
	}
	mr.rebuild = &Progress{Model: name}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		mr.rebuild = nil
		r.mu.Unlock()
	}()
	gen, err := r.createGenerationAt(ctx, mr.m, func(tx *sqldb.Tx) (int, error) {
		var maxGen int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(generation), 0) FROM projection_checkpoints WHERE name = ?`, name).Scan(&maxGen); err != nil {
			return 0, fmt.Errorf("read db: %w", err)
		}
		return maxGen + 1, nil
	}, false)
	if err != nil {
		return err
	}
	total, err := r.src.LastSeq(ctx)
	if err != nil {
		return err
	}
	b := &builder{r: r, m: mr.m, t: tablesFor(name, gen), gen: gen, start: time.Now(), total: total, phase: PhaseLoading}
	if b.conn, err = r.builderConn(ctx); err != nil {
		return err
	}
	defer b.conn.Discard()
	defer r.heartbeat(name, gen)()
	// The serving generation keeps answering (and, if it was running,
	// applying) until the switch; Status shows "rebuilding" meanwhile,
	// with the last report.
	report := func() {
		p := b.progress()
		r.mu.Lock()
		mr.rebuild = &p
		r.mu.Unlock()
		if progress != nil {
			progress(p)
		}
	}
	report() // started: 0 of total
	near := func() error {
		for {
			target := r.Applied()
			if last, err := r.src.LastSeq(ctx); err == nil && last > target {
				target = last
			}
			margin := uint64(switchMargin)
			if r.switchMargin > 0 {
				margin = r.switchMargin
			}
			b.total = max(b.total, target) // the log grew since the start
			if b.seq+margin >= target {
				return nil
			}
			if err := b.catchUp(ctx, target, report); err != nil {
				return err
			}
		}
	}
	late, err := dropLateIndexes(ctx, b.conn, mr.m, b.t)
	if err != nil {
		return err
	}
	li, later := mr.m.(laterIndexer)
	b.t.indexLater = later
	if err := near(); err != nil {
		return err
	}
	if later || len(late) > 0 {
		b.phase = PhaseIndexing
		report()
	}
	if later {
		// Filled once from the loaded rows; the events from here on keep
		// it up as they do a serving generation's.
		if err := li.FillIndex(ctx, b.conn, b.t); err != nil {
			return err
		}
		b.t.indexLater = false
	}
	if len(late) > 0 || later {
		// Built once over the loaded rows, not kept up row by row; then
		// the events that came meanwhile, before the runner is paused.
		if err := createIndexes(ctx, b.conn, late); err != nil {
			return err
		}
		if err := near(); err != nil {
			return err
		}
	}
	// The last stretch with the runner paused between batches, so the
	// switch happens at exactly the sequence the serving generation has.
	b.phase = PhaseSwitching
	report()
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	target := r.Applied()
	b.total = max(b.total, target)
	if err := b.catchUp(ctx, target, report); err != nil {
		return err
	}
	// pubMu first, as applyBatch takes it: the switch's transaction must
	// not sit idle behind a tap's snapshot (sqldb.IdleInTransaction).
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	tx, err := r.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UnixNano()
	if _, err := tx.Exec(ctx, `UPDATE projection_checkpoints SET serving = 0, state = ?, updated = ? WHERE name = ? AND serving = 1`,
		stateRetired, now, name); err != nil {
		return err
	}
	if err := stillBuilding(tx.Exec(ctx, `UPDATE projection_checkpoints SET serving = 1, state = ?, seq = ?, updated = ? WHERE name = ? AND generation = ? AND state = ?`,
		StateRunning, int64(b.seq), now, name, gen, StateRebuilding)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("read db: switch %s to generation %d: %w", name, gen, err)
	}
	r.mu.Lock()
	mr.gen, mr.version, mr.seq, mr.state, mr.failedSeq, mr.reason, mr.updated = gen, mr.m.Version(), b.seq, StateRunning, 0, "", time.Now()
	r.mu.Unlock()
	report()
	return nil
}

// errAbandoned means the generation being built was taken for abandoned
// and dropped (DropRetired, by this or another process): the rebuild
// stops, and the serving generation goes on serving.
var errAbandoned = errors.New("the generation being built was dropped as abandoned; the serving one still serves")

// stillBuilding checks that an update of a generation being built found
// it still being built.
func stillBuilding(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errAbandoned
	}
	return nil
}

// heartbeatEvery is how often a rebuild marks its generation as being
// built while no batch commits it (filling an index, making one).
const heartbeatEvery = abandonAfter / 12

// heartbeat keeps generation gen's checkpoint fresh until the returned
// func is called, so DropRetired never takes a long phase for an
// abandoned rebuild.
func (r *SQLRunner) heartbeat(name string, gen int) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := heartbeatEvery
		if r.heartbeatEvery > 0 {
			every = r.heartbeatEvery
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_, _ = r.db.Exec(context.Background(), `UPDATE projection_checkpoints SET updated = ? WHERE name = ? AND generation = ? AND state = ?`,
					time.Now().UnixNano(), name, gen, StateRebuilding) // a failure is the next tick's to mend
			}
		}
	}()
	return func() { close(stop); <-done }
}

// builderCache is the SQLite page cache of a rebuild's own connection
// (KiB, as PRAGMA cache_size takes it when negative): the default 2 MiB
// makes every batch read back pages of the tables it grows. It is only
// memory, dropped with the connection when the rebuild ends.
const builderCache = 64 << 10

// builderConn takes the connection a rebuild writes through, with
// settings for it alone: a larger page cache on SQLite. Durability is the
// pool's (the serving generation shares the file and the WAL); on
// PostgreSQL each builder transaction turns synchronous_commit off
// itself (see commitWith).
func (r *SQLRunner) builderConn(ctx context.Context) (*sqldb.Conn, error) {
	c, err := r.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("read db: %w", err)
	}
	if r.db.Dialect == sqldb.SQLite {
		if _, err := c.Exec(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", builderCache)); err != nil {
			c.Discard()
			return nil, fmt.Errorf("read db: %w", err)
		}
	}
	return c, nil
}

// ignorer is a model that ignores some event types outright (its Apply
// returns before decoding them): a rebuild neither decodes them nor
// hands them over. Job status ignores the submitted chunks, the largest
// events to decode.
type ignorer interface {
	Ignores(eventType string) bool
}

func ignores(m SQLModel, env events.Envelope) bool {
	ig, ok := m.(ignorer)
	return ok && ig.Ignores(env.Type)
}

// lateIndexer is a model with secondary indexes that its writes never
// read through (only its readers do): a generation being built, which no
// reader sees yet, gets them after the bulk load, just before the switch.
type lateIndexer interface {
	LateIndexes(t Tables) []string // index names, as Create made them (one Create did not make is passed over)
}

// dropLateIndexes drops a new generation's late indexes and returns the
// statements that make them again, as the database holds them. A rebuild
// that stops before the switch leaves a generation that never serves.
//
// Both run on the builder's own connection: SQLite checks CREATE INDEX's
// "already exists" against the connection's cached schema, and a pool
// connection that read the schema before the drop and sat idle since
// (serve's readers and live runner leave such ones) failed the rebuild.
func dropLateIndexes(ctx context.Context, db *sqldb.Conn, m SQLModel, t Tables) ([]string, error) {
	li, ok := m.(lateIndexer)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, name := range li.LateIndexes(t) {
		q := `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`
		if db.Dialect() == sqldb.Postgres {
			q = `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?`
		}
		var def string
		err := db.QueryRow(ctx, q, name).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			continue // not on this dialect
		}
		if err != nil {
			return nil, fmt.Errorf("read db: index %s: %w", name, err)
		}
		if _, err := db.Exec(ctx, `DROP INDEX `+name); err != nil {
			return nil, fmt.Errorf("read db: %w", err)
		}
		out = append(out, def)
	}
	return out, nil
}

// createIndexes runs the statements of dropLateIndexes, each in its own
// transaction: on SQLite one holds the file's write lock, and the live
// runner's next commit waits for one index, not for all of them.
func createIndexes(ctx context.Context, db *sqldb.Conn, defs []string) error {
	for _, def := range defs {
		if _, err := db.Exec(ctx, def); err != nil {
			return fmt.Errorf("read db: %s: %w", def, err)
		}
	}
	return nil
}

// builder applies the log to one generation of one model, alone.
type builder struct {
	r     *SQLRunner
	conn  *sqldb.Conn
	m     SQLModel
	t     Tables
	gen   int
	seq   uint64
	start time.Time
	total uint64
	phase string
}

func (b *builder) progress() Progress {
	el := time.Since(b.start)
	p := Progress{Model: b.m.Name(), Phase: b.phase, Done: b.seq, Total: b.total, Elapsed: el}
	if el > 0 {
		p.Rate = float64(b.seq) / el.Seconds()
	}
	if p.Rate > 0 && b.total > b.seq {
		p.ETA = time.Duration(float64(b.total-b.seq) / p.Rate * float64(time.Second))
	}
	return p
}

var errBuilt = errors.New("built")

// openingSource is a source that opens events on their way out (the
// sealing store): a rebuild reads the store underneath and opens the
// events in its decoding stage, beside the reading, and only those its
// model does not ignore.
type openingSource interface {
	Inner() events.Store
	Open(ctx context.Context, env events.Envelope) (events.Envelope, error)
}

// catchUp applies events after b.seq up to target, in batches of
// catchUpBatch, through three stages, each in its own goroutine: the log
// is read in one, opened and decoded in another, and written in this
// one, so a batch is written while the next is decoded and the one after
// is read.
func (b *builder) catchUp(ctx context.Context, target uint64, report func()) error {
	if b.seq >= target {
		return nil
	}
	size := b.batch()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var src Source = b.r.src
	open := func(_ context.Context, env events.Envelope) (events.Envelope, error) { return env, nil }
	if os, ok := b.r.src.(openingSource); ok {
		src, open = os.Inner(), os.Open
	}
	fetched := make(chan []events.Envelope, 8)
	readErr := make(chan error, 1)
	go func() {
		defer close(fetched)
		readErr <- b.read(rctx, src, target, fetched)
	}()
	// Chunks are opened and decoded by a few workers and put back in
	// order: opening a sealed event may first fetch its job's data key,
	// and those fetches then wait side by side instead of one by one.
	type opened struct {
		chunk []events.Envelope
		err   error
	}
	work := make(chan func(), openers)
	ordered := make(chan chan opened, 2*openers)
	for range openers {
		go func() {
			for w := range work {
				w()
			}
		}()
	}
	go func() {
		defer close(ordered)
		defer close(work)
		for chunk := range fetched {
			res := make(chan opened, 1)
			w := func() {
				for i := range chunk {
					if ignores(b.m, chunk[i]) {
						continue
					}
					env, err := open(rctx, chunk[i])
					if err != nil {
						res <- opened{err: err}
						return
					}
					_ = env.Load() // an error is met again in commit
					chunk[i] = env
				}
				res <- opened{chunk: chunk}
			}
			select {
			case work <- w:
			case <-rctx.Done():
				return
			}
			select {
			case ordered <- res:
			case <-rctx.Done():
				return
			}
		}
	}()
	batches := make(chan []events.Envelope, 2)
	openErr := make(chan error, 1)
	go func() {
		defer close(batches)
		batch := make([]events.Envelope, 0, size)
		for res := range ordered {
			o := <-res
			if o.err != nil {
				openErr <- o.err
				return
			}
			batch = append(batch, o.chunk...)
			if len(batch) < size {
				continue
			}
			select {
			case batches <- batch:
				batch = make([]events.Envelope, 0, size)
			case <-rctx.Done():
				return
			}
		}
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-rctx.Done():
			}
		}
	}()
	for batch := range batches {
		if err := b.commit(ctx, batch); err != nil {
			return err
		}
		report()
	}
	select {
	case err := <-openErr:
		cancel() // the reader may be waiting to hand over its next chunk
		<-readErr
		return err
	default:
		return <-readErr
	}
}

// pgBuilderBatches is how many catch-up batches one batch of a rebuild
// on PostgreSQL holds: each statement is a round trip to the server and
// each commit a flush, and a generation no reader sees yet has no one
// waiting for its commits.
const pgBuilderBatches = 4

// batch is how many events one builder transaction applies.
func (b *builder) batch() int {
	size := b.r.catchUpBatch()
	if b.r.db.Dialect == sqldb.Postgres && size == DefaultCatchUpBatch {
		return pgBuilderBatches * size
	}
	return size
}

// readChunk is how many events the reading stage hands the decoding
// stage at a time: small enough that decoding starts early.
const readChunk = 500

// openers is how many chunks are opened and decoded at once.
const openers = 4

// read reads the events after b.seq up to target into out, in chunks.
func (b *builder) read(ctx context.Context, src Source, target uint64, out chan<- []events.Envelope) error {
	chunk := make([]events.Envelope, 0, readChunk)
	send := func() error {
		select {
		case out <- chunk:
			chunk = make([]events.Envelope, 0, readChunk)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := src.Read(ctx, events.SubjectAll, b.seq+1, func(env events.Envelope) error {
		if env.Seq > target {
			return errBuilt
		}
		chunk = append(chunk, env)
		if len(chunk) >= readChunk {
			if err := send(); err != nil {
				return err
			}
		}
		if env.Seq == target {
			return errBuilt
		}
		return nil
	})
	if err == nil || errors.Is(err, errBuilt) {
		err = nil
		if len(chunk) > 0 {
			err = send()
		}
	}
	return err
}

// commit applies a batch to the generation and moves its checkpoint in
// one transaction: as one batch if the model folds batches, else (or
// when that fails, to name the event) event by event.
func (b *builder) commit(ctx context.Context, batch []events.Envelope) error {
	loaded := make([]events.Envelope, 0, len(batch))
	for _, env := range batch {
		if ignores(b.m, env) {
			if v := events.Types.Version(env.Type); env.Version > v {
				b.r.RebuildSkips.Skip(events.ReaderProjections, env, fmt.Errorf("%s version %d: %w", env.Type, env.Version, events.ErrUnknownEvent))
			}
			continue
		}
		if err := env.Load(); err != nil {
			if events.IsUnknown(err) {
				b.r.RebuildSkips.Skip(events.ReaderProjections, env, err)
				continue
			}
			return fmt.Errorf("seq %d: %w", env.Seq, err)
		}
		loaded = append(loaded, env)
	}
	last := batch[len(batch)-1].Seq
	if ba, ok := b.m.(BatchApplier); ok {
		err := b.commitWith(ctx, last, func(tx *sqldb.Tx) error { return ba.ApplyBatch(ctx, tx, b.t, loaded) })
		if err == nil {
			return nil
		}
	}
	return b.commitWith(ctx, last, func(tx *sqldb.Tx) error {
		for _, env := range loaded {
			if err := b.m.Apply(ctx, tx, b.t, env); err != nil {
				return fmt.Errorf("rebuild %s at seq %d: %w", b.m.Name(), env.Seq, err)
			}
		}
		return nil
	})
}

func (b *builder) commitWith(ctx context.Context, last uint64, apply func(*sqldb.Tx) error) error {
	tx, err := b.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if tx.Dialect() == sqldb.Postgres {
		// A builder commit lost in a crash is applied again from the
		// generation's checkpoint, which moves in the same transaction; the
		// switch itself commits synchronously, which flushes these too.
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
	}
	// The checkpoint first: a generation dropped as abandoned meanwhile
	// stops the rebuild here, before its batch meets missing tables.
	if err := stillBuilding(tx.Exec(ctx, `UPDATE projection_checkpoints SET seq = ?, updated = ? WHERE name = ? AND generation = ? AND state = ?`,
		int64(last), time.Now().UnixNano(), b.m.Name(), b.gen, StateRebuilding)); err != nil {
		return err
	}
	if err := apply(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	b.seq = last
	return nil
}
