package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/memstore"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/internal/testenv"
)

// stores runs fn once per read database: SQLite in a temp dir, then
// PostgreSQL in a private schema (failing under CI when it is missing).
// open reopens the same database, as a restart would.
func stores(t *testing.T, fn func(t *testing.T, open func() *sqldb.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "read.db")
		fn(t, func() *sqldb.DB {
			db, err := sqldb.OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := testenv.PostgresSchema(t)
		fn(t, func() *sqldb.DB {
			db, err := sqldb.Open(context.Background(), url, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

// seqModel records every event it applies under a primary key: an event
// applied twice (in any run) fails the insert. failAt makes it fail there.
type seqModel struct {
	name    string
	failAt  uint64
	version int // 0: 1
}

func (m *seqModel) Name() string { return m.name }
func (m *seqModel) Version() int { return max(m.version, 1) }
func (m *seqModel) Create(ctx context.Context, tx *sqldb.Tx, t Tables) error {
	_, err := tx.Exec(ctx, `CREATE TABLE `+t.Name("seen")+` (seq BIGINT PRIMARY KEY, job TEXT NOT NULL)`)
	return err
}
func (m *seqModel) Apply(ctx context.Context, tx *sqldb.Tx, t Tables, env events.Envelope) error {
	if env.Seq == m.failAt {
		return errors.New("cannot fold this one")
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+t.Name("seen")+` (seq, job) VALUES (?, ?)`, int64(env.Seq), env.JobID)
	return err
}

func seenSeqs(t *testing.T, db *sqldb.DB, tb Tables) []uint64 {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT seq FROM `+tb.Name("seen")+` ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, uint64(s))
	}
	return out
}

func startedLog(t *testing.T, n int) sliceLog {
	envs := make([]events.Envelope, n)
	for i := range envs {
		envs[i] = known(t, fmt.Sprintf("job-%d", i), events.JobResumed{})
	}
	return logOf(t, envs...)
}

// A restart resumes from the checkpoint committed with the model's rows:
// the second runner applies only the new events (a repeat would violate
// the primary key), and batches bounded by size still apply everything.
func TestSQLRunnerResumesFromCheckpoint(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		all := startedLog(t, 25)
		r := NewSQLRunner(open(), all[:10], &seqModel{name: "probe"})
		r.BatchSize = 3
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if r.Applied() != 10 {
			t.Fatalf("applied %d, want 10", r.Applied())
		}
		r.DB().Close()

		r2 := NewSQLRunner(open(), all, &seqModel{name: "probe"})
		if err := r2.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if r2.Applied() != 10 {
			t.Fatalf("reopened at %d, want the checkpoint 10", r2.Applied())
		}
		if err := r2.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		got := seenSeqs(t, r2.DB(), r2.Tables("probe"))
		if len(got) != 25 || got[0] != 1 || got[24] != 25 {
			t.Fatalf("seen %v", got)
		}
		st := r2.Status()[0]
		if st.State != StateRunning || st.Seq != 25 || st.Generation != 1 {
			t.Fatalf("status %+v", st)
		}
	})
}

// A model that fails stops alone at the failing event, with the reason;
// the other keeps applying, and WaitFor past the failure says so.
func TestSQLRunnerModelFailsAlone(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		log := startedLog(t, 12)
		r := NewSQLRunner(open(), log, &seqModel{name: "good"}, &seqModel{name: "bad", failAt: 7})
		r.BatchSize = 5
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if got := seenSeqs(t, r.DB(), r.Tables("good")); len(got) != 12 {
			t.Fatalf("good model saw %v", got)
		}
		if got := seenSeqs(t, r.DB(), r.Tables("bad")); len(got) != 6 || got[5] != 6 {
			t.Fatalf("bad model kept %v, want 1..6", got)
		}
		bad := r.Status()[1]
		if bad.State != StateFailed || bad.FailedSeq != 7 || bad.Seq != 6 || bad.Reason == "" {
			t.Fatalf("bad status %+v", bad)
		}
		if err := r.WaitFor(ctx, 12); !errors.Is(err, ErrModelFailed) {
			t.Fatalf("WaitFor past a failure = %v", err)
		}
		// The failure is durable: a restart does not apply it again.
		r.DB().Close()
		r2 := NewSQLRunner(open(), log, &seqModel{name: "good"}, &seqModel{name: "bad"})
		if err := r2.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if st := r2.Status()[1]; st.State != StateFailed || st.FailedSeq != 7 {
			t.Fatalf("after restart %+v", st)
		}
	})
}

// Taps get a snapshot as of a committed checkpoint and then every later
// event once, in order; unknown events and events that do not decode are
// skipped, counted (apart), not shown, and still reported after a restart.
func TestSQLRunnerTapAndSkips(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		envs := startedLog(t, 8)
		unknown := envs[4]
		unknown.Type = "JobArchived"
		envs[4] = unknown
		broken := envs[5]
		broken.Data = json.RawMessage(`{"reason":`)
		envs[5] = broken
		r := NewSQLRunner(open(), envs[:3], &seqModel{name: "probe"})
		skips := events.NewSkips(nil, nil)
		r.CountSkips(skips)
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		var snapAt uint64
		var seen []uint64
		r.Tap(func(applied uint64) {
			snapAt = applied
			if n := len(seenSeqs(t, r.DB(), r.Tables("probe"))); uint64(n) != applied {
				t.Errorf("snapshot sees %d rows at checkpoint %d", n, applied)
			}
		}, func(env events.Envelope) bool { seen = append(seen, env.Seq); return true })
		r.src = envs
		r.BatchSize = 2
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if snapAt != 3 || fmt.Sprint(seen) != "[4 7 8]" {
			t.Fatalf("snapshot at %d, then %v", snapAt, seen)
		}
		if skips.Total() != 2 || r.Applied() != 8 {
			t.Fatalf("skips %d, applied %d", skips.Total(), r.Applied())
		}
		// A restart from the checkpoint still reports the skipped event.
		r.DB().Close()
		r2 := NewSQLRunner(open(), envs, &seqModel{name: "probe"})
		again := events.NewSkips(nil, nil)
		r2.CountSkips(again)
		if err := r2.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if again.Total() != 2 || again.Count(events.ReaderProjections, "JobArchived") != 1 ||
			again.Count(events.ReaderProjections, events.SkipMalformed) != 1 || !strings.Contains(again.Summary(), "do not decode (seq 6)") {
			t.Fatalf("after restart: %d skips: %s", again.Total(), again.Summary())
		}
	})
}

// A rebuild writes the next generation beside the serving one and
// switches at the serving checkpoint; the rebuilt tables equal the old.
func TestSQLRunnerRebuildSwitchesGeneration(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		log := startedLog(t, 40)
		r := NewSQLRunner(open(), log, &seqModel{name: "probe"})
		r.BatchSize = 7
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		before := seenSeqs(t, r.DB(), r.Tables("probe"))
		var last Progress
		var phases []string
		if err := r.Rebuild(ctx, "probe", func(p Progress) {
			last = p
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
		}); err != nil {
			t.Fatal(err)
		}
		// The probe builds no index after its load.
		if fmt.Sprint(phases) != fmt.Sprint([]string{PhaseLoading, PhaseSwitching}) {
			t.Fatalf("phases %v", phases)
		}
		st := r.Status()[0]
		if st.Generation != 2 || st.State != StateRunning || st.Seq != 40 {
			t.Fatalf("after rebuild %+v", st)
		}
		if last.Done != 40 || last.Total != 40 {
			t.Fatalf("progress %+v", last)
		}
		if after := seenSeqs(t, r.DB(), r.Tables("probe")); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("rebuilt %v, serving had %v", after, before)
		}
		// A restart serves the new generation.
		r.DB().Close()
		r2 := NewSQLRunner(open(), log, &seqModel{name: "probe"})
		if err := r2.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if g := r2.Status()[0].Generation; g != 2 {
			t.Fatalf("restart serves generation %d", g)
		}
		// ... with the retired one's tables until DropRetired, which the
		// process runs beside serving, drops them.
		retired := func() []string { return generationTables(t, r2.DB(), "probe", 1) }
		if len(retired()) == 0 {
			t.Fatal("Open dropped the retired generation: a restart would wait for it")
		}
		for range 2 { // the second finds nothing to do
			if err := r2.DropRetired(ctx); err != nil {
				t.Fatal(err)
			}
			if kept := retired(); len(kept) > 0 {
				t.Fatalf("retired tables %v kept after DropRetired", kept)
			}
		}
		if g := r2.Status()[0].Generation; g != 2 {
			t.Fatalf("after DropRetired the runner serves generation %d", g)
		}
	})
}

// While a rebuild builds the next generation, the serving one keeps
// applying and observers keep getting every event once, in order; the
// switch lands at the serving checkpoint and the runner goes on into the
// new generation.
func TestSQLRunnerRebuildWhileServing(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		log := memstore.New()
		appendN := func(n int) {
			for i := 0; i < n; i++ {
				if _, err := log.Append(ctx, known(t, fmt.Sprintf("job-%d", i%7), events.JobResumed{}), nil); err != nil {
					t.Error(err)
					return
				}
			}
		}
		appendN(300)
		r := NewSQLRunner(open(), log, &seqModel{name: "probe"})
		r.BatchSize = 16
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var delivered []uint64
		r.Tap(func(uint64) {}, func(env events.Envelope) bool {
			mu.Lock()
			delivered = append(delivered, env.Seq)
			mu.Unlock()
			return true
		})
		runErr := make(chan error, 1)
		go func() { runErr <- r.Run(ctx) }()
		writing := make(chan struct{})
		go func() { defer close(writing); appendN(300) }()
		if err := r.Rebuild(ctx, "probe", nil); err != nil {
			t.Fatal(err)
		}
		<-writing
		appendN(50)
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if g := r.Status()[0].Generation; g != 2 {
			t.Fatalf("serving generation %d", g)
		}
		if got := seenSeqs(t, r.DB(), r.Tables("probe")); len(got) != 650 || got[0] != 1 || got[649] != 650 {
			t.Fatalf("new generation holds %d events (%v...)", len(got), got[:min(5, len(got))])
		}
		mu.Lock()
		defer mu.Unlock()
		for i, s := range delivered {
			if s != uint64(301+i) {
				t.Fatalf("observer got %v at %d, want %d (no gap, no repeat)", s, i, 301+i)
			}
		}
		if len(delivered) != 350 {
			t.Fatalf("observer got %d events, want 350", len(delivered))
		}
		cancel()
		if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

// A new version of a model is not applied to the tables an older version
// wrote: it is reported as needing a rebuild, which builds its generation
// beside the old one and switches.
func TestSQLRunnerNewVersionIsRebuiltBeside(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		log := startedLog(t, 30)
		r := NewSQLRunner(open(), log[:20], &seqModel{name: "probe"})
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		r.DB().Close()
		r2 := NewSQLRunner(open(), log, &seqModel{name: "probe", version: 2})
		if err := r2.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if got := r2.NeedsRebuild(); fmt.Sprint(got) != "[probe]" {
			t.Fatalf("needs rebuild: %v", got)
		}
		if err := r2.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if got := seenSeqs(t, r2.DB(), r2.Tables("probe")); len(got) != 20 {
			t.Fatalf("the old version's tables were written by the new code: %d rows", len(got))
		}
		if err := r2.Rebuild(ctx, "probe", nil); err != nil {
			t.Fatal(err)
		}
		st := r2.Status()[0]
		if st.Generation != 2 || st.State != StateRunning || st.Version != 2 || len(r2.NeedsRebuild()) != 0 {
			t.Fatalf("after rebuild %+v", st)
		}
		if got := seenSeqs(t, r2.DB(), r2.Tables("probe")); len(got) != 30 {
			t.Fatalf("new generation holds %d events", len(got))
		}
	})
}

// Two processes sharing one database (PostgreSQL, or the same SQLite
// file) may both run a model: each batch claims the checkpoint as its
// runner last left it, so the one that finds it moved reloads instead of
// applying the same events again. The probe model's primary key would
// fail (and stop the model) on any event applied twice.
func TestSQLRunnersSharingADatabaseApplyEachEventOnce(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		log := memstore.New()
		appendN := func(n int) {
			for i := 0; i < n; i++ {
				if _, err := log.Append(ctx, known(t, fmt.Sprintf("job-%d", i%5), events.JobResumed{}), nil); err != nil {
					t.Error(err)
					return
				}
			}
		}
		var runners []*SQLRunner
		errs := make(chan error, 2)
		for i := 0; i < 2; i++ {
			r := NewSQLRunner(open(), log, &seqModel{name: "probe"})
			r.BatchSize = 1 + 6*i
			if err := r.Open(ctx); err != nil {
				t.Fatal(err)
			}
			runners = append(runners, r)
			go func() { errs <- r.Run(ctx) }()
		}
		appendN(400)
		for _, r := range runners {
			if err := r.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if st := r.Status()[0]; st.State != StateRunning || st.Seq != 400 {
				t.Fatalf("runner status %+v", st)
			}
		}
		if got := seenSeqs(t, runners[0].DB(), runners[0].Tables("probe")); len(got) != 400 {
			t.Fatalf("%d events applied, want 400", len(got))
		}
		cancel()
		for range runners {
			if err := <-errs; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
		}
	})
}

// A rebuild that stops before its switch (the command interrupted, the
// process killed) leaves a generation as large as the history; DropRetired
// drops it with the retired ones once its checkpoint has not moved for
// abandonAfter, but never one being built here, nor one that moves.
func TestDropRetiredDropsAbandonedRebuilds(t *testing.T) {
	log := busyLog(t, 9)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := caughtUp(t, open(), log, JobStatusModel{})
		tablesOf := func(gen int) []string { return generationTables(t, r.DB(), JobStatusName, gen) }
		// Generation 2: a rebuild stopped while loading.
		stop, cancel := context.WithCancel(ctx)
		if err := r.Rebuild(stop, JobStatusName, func(Progress) { cancel() }); err == nil {
			t.Fatal("a cancelled rebuild switched")
		}
		if len(tablesOf(2)) == 0 {
			t.Fatal("the stopped rebuild left no generation: the test shows nothing")
		}
		// Generation 3 is built while DropRetired runs: it is kept.
		if err := r.Rebuild(ctx, JobStatusName, atPhase(PhaseLoading, func() {
			if err := r.DropRetired(ctx); err != nil {
				t.Error(err)
			}
		})); err != nil {
			t.Fatalf("DropRetired during a rebuild: %v", err)
		}
		if g := r.Status()[0].Generation; g != 3 {
			t.Fatalf("serving generation %d, want 3", g)
		}
		if err := r.DropRetired(ctx); err != nil {
			t.Fatal(err)
		}
		if kept := tablesOf(1); len(kept) > 0 {
			t.Fatalf("retired generation kept: %v", kept)
		}
		// Another process may be building generation 2 still: kept
		// until its checkpoint has not moved for abandonAfter.
		if len(tablesOf(2)) == 0 {
			t.Fatal("a generation whose builder committed a moment ago was dropped")
		}
		ageCheckpoint(t, r.DB(), JobStatusName, 2)
		if err := r.DropRetired(ctx); err != nil {
			t.Fatal(err)
		}
		if kept := tablesOf(2); len(kept) > 0 {
			t.Fatalf("abandoned generation kept: %v", kept)
		}
		var rows int
		if err := r.DB().QueryRow(ctx, `SELECT count(*) FROM projection_checkpoints WHERE name = ?`, JobStatusName).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("checkpoint rows left: %d (%v), want the serving one", rows, err)
		}
		if len(tablesOf(3)) == 0 {
			t.Fatal("the serving generation's tables are gone")
		}
	})
}

// A builder that only looked abandoned (another process took its
// generation for dropped) stops with an error at its next commit: the
// old generation serves on and the database opens again, instead of a
// switch to dropped tables that left nothing serving.
func TestRebuildWhoseGenerationWasDroppedStops(t *testing.T) {
	log := busyLog(t, 10)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := caughtUp(t, open(), log, JobStatusModel{})
		other := opened(t, open(), log, JobStatusModel{})
		for _, phase := range []string{PhaseLoading, PhaseSwitching} {
			gen := r.Status()[0].Generation + 1
			err := r.Rebuild(ctx, JobStatusName, atPhase(phase, func() {
				ageCheckpoint(t, r.DB(), JobStatusName, gen)
				if err := other.DropRetired(ctx); err != nil {
					t.Error(err)
				}
			}))
			if !errors.Is(err, errAbandoned) {
				t.Fatalf("%s: a rebuild whose generation was dropped: %v", phase, err)
			}
			if g := r.Status()[0].Generation; g != 1 {
				t.Fatalf("%s: serving generation %d, want 1", phase, g)
			}
			if kept := generationTables(t, r.DB(), JobStatusName, gen); len(kept) > 0 {
				t.Fatalf("%s: dropped generation's tables %v", phase, kept)
			}
		}
		again := opened(t, open(), log, JobStatusModel{})
		if g := again.Status()[0].Generation; g != 1 {
			t.Fatalf("reopened on generation %d, want 1", g)
		}
	})
}

// generationTables names generation gen's tables of model.
func generationTables(t *testing.T, db *sqldb.DB, model string, gen int) []string {
	t.Helper()
	tables, err := listTables(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tb := range tables {
		if strings.HasPrefix(tb, tablesFor(model, gen).Prefix) {
			out = append(out, tb)
		}
	}
	return out
}

// ageCheckpoint makes generation gen's checkpoint look untouched for
// twice abandonAfter.
func ageCheckpoint(t *testing.T, db *sqldb.DB, model string, gen int) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `UPDATE projection_checkpoints SET updated = ? WHERE name = ? AND generation = ?`,
		time.Now().Add(-2*abandonAfter).UnixNano(), model, gen); err != nil {
		t.Fatal(err)
	}
}

// Events written while a rebuild runs move its total: progress never
// reads "32503 of 31473 events", and ends at done = total.
func TestRebuildProgressFollowsTheGrowingLog(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		log := memstore.New()
		appendN := func(n int) {
			for i := 0; i < n; i++ {
				if _, err := log.Append(ctx, known(t, fmt.Sprintf("job-%d", i%7), events.JobResumed{}), nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		appendN(100)
		r := NewSQLRunner(open(), log, &seqModel{name: "probe"})
		r.BatchSize = 16
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		var seen []Progress
		if err := r.Rebuild(ctx, "probe", func(p Progress) {
			if len(seen) == 0 {
				// After the rebuild took its total, the serving
				// generation, where it will switch, moves on.
				appendN(200)
				if err := r.CatchUp(ctx); err != nil {
					t.Fatal(err)
				}
			}
			seen = append(seen, p)
		}); err != nil {
			t.Fatal(err)
		}
		for _, p := range seen {
			if p.Done > p.Total {
				t.Fatalf("progress %d of %d", p.Done, p.Total)
			}
		}
		if last := seen[len(seen)-1]; last.Done != 300 || last.Total != 300 {
			t.Fatalf("last progress %d of %d, want 300 of 300", last.Done, last.Total)
		}
	})
}

// opened is a runner of models over log, opened.
func opened(t *testing.T, db *sqldb.DB, log Source, models ...SQLModel) *SQLRunner {
	t.Helper()
	r := NewSQLRunner(db, log, models...)
	if err := r.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// caughtUp is a runner of models over log, opened and caught up.
func caughtUp(t *testing.T, db *sqldb.DB, log Source, models ...SQLModel) *SQLRunner {
	t.Helper()
	r := opened(t, db, log, models...)
	if err := r.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// atPhase is a rebuild's progress callback that calls fn once, at the
// first report of phase.
func atPhase(phase string, fn func()) func(Progress) {
	done := false
	return func(p Progress) {
		if !done && p.Phase == phase {
			done = true
			fn()
		}
	}
}

// While a rebuild commits nothing (here: held in its progress report),
// its heartbeat keeps the generation's checkpoint fresh, so DropRetired
// in another process does not take a long index build for an abandoned
// rebuild.
func TestRebuildHeartbeatKeepsItsGenerationFresh(t *testing.T) {
	log := busyLog(t, 11)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := caughtUp(t, open(), log, JobStatusModel{})
		r.heartbeatEvery = 5 * time.Millisecond
		other := opened(t, open(), log, JobStatusModel{})
		if err := r.Rebuild(ctx, JobStatusName, atPhase(PhaseLoading, func() {
			ageCheckpoint(t, r.DB(), JobStatusName, 2)
			// No batch commits while this report holds the builder: only
			// the heartbeat can make the checkpoint recent again.
			deadline := time.Now().Add(10 * time.Second)
			for {
				var updated int64
				if err := r.DB().QueryRow(ctx, `SELECT updated FROM projection_checkpoints WHERE name = ? AND generation = 2`,
					JobStatusName).Scan(&updated); err != nil {
					t.Error(err)
					return
				}
				if time.Since(time.Unix(0, updated)) < abandonAfter {
					break
				}
				if time.Now().After(deadline) {
					t.Error("no heartbeat in 10 s")
					return
				}
				runtime.Gosched()
			}
			if err := other.DropRetired(ctx); err != nil {
				t.Error(err)
			}
		})); err != nil {
			t.Fatalf("a rebuild whose heartbeat beat: %v", err)
		}
		if g := r.Status()[0].Generation; g != 2 {
			t.Fatalf("serving generation %d, want 2", g)
		}
	})
}
