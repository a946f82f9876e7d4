package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/lease"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/internal/testenv"
)

// ownerModel records which process applied each event, under a primary
// key: an event applied twice, by anyone, fails the insert.
type ownerModel struct{ owner string }

func (m *ownerModel) Name() string { return "owned" }
func (m *ownerModel) Version() int { return 1 }
func (m *ownerModel) Create(ctx context.Context, tx *sqldb.Tx, t Tables) error {
	_, err := tx.Exec(ctx, `CREATE TABLE `+t.Name("seen")+` (seq BIGINT PRIMARY KEY, owner TEXT NOT NULL)`)
	return err
}
func (m *ownerModel) Apply(ctx context.Context, tx *sqldb.Tx, t Tables, env events.Envelope) error {
	_, err := tx.Exec(ctx, `INSERT INTO `+t.Name("seen")+` (seq, owner) VALUES (?, ?)`, int64(env.Seq), m.owner)
	return err
}

// sharedProc is one API process: its own database handle, lease and runner.
type sharedProc struct {
	name   string
	r      *SQLRunner
	lease  *lease.Lease
	stop   context.CancelFunc // death: no release
	done   chan error
	mu     sync.Mutex
	tapped []uint64 // what its observer got after the snapshot
	snapAt uint64
}

func (p *sharedProc) seen() (uint64, []uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapAt, append([]uint64(nil), p.tapped...)
}

// Three processes share one PostgreSQL schema and one JetStream: exactly
// one applies at a time (every event is applied once, and the owners form
// one run per holder); the others answer WaitFor only once the holder
// committed, and their observers get a snapshot as of a committed
// checkpoint and then every later event, once, in order. Killing the
// holder (its lease is not released) hands the lease to another process
// within the 15 s budget, without a duplicate or a gap.
func TestSharedRunnersOneHolderTakeoverNoDuplicates(t *testing.T) {
	url := testenv.PostgresSchema(t)
	conn := natstest.Start(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	store, err := jsstore.Open(ctx, conn.JS, jsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 3 * time.Second
	kv, _, err := lease.OpenBucket(ctx, conn.JS, 1, ttl)
	if err != nil {
		t.Fatal(err)
	}
	appendN := func(n int) uint64 {
		var last uint64
		for i := 0; i < n; i++ {
			if last, err = store.Append(ctx, known(t, fmt.Sprintf("job-%d", i%5), events.JobResumed{}), nil); err != nil {
				t.Fatal(err)
			}
		}
		return last
	}
	appendN(50) // history before any process starts

	var procs []*sharedProc
	for i := 0; i < 3; i++ {
		db, err := sqldb.Open(ctx, url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		p := &sharedProc{name: fmt.Sprintf("p%d", i), done: make(chan error, 2)}
		p.lease = lease.New(lease.Config{KV: kv, Key: "projections", Holder: p.name, TTL: ttl, Every: ttl / 6})
		p.r = NewSQLRunner(db, store, &ownerModel{owner: p.name})
		p.r.BatchSize = 1 + 5*i
		// Each process has its own announcer, as each serve does.
		a, err := lease.NewAnnouncer(conn.NC)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		p.r.Shared(Share{Lease: p.lease, Announce: a.Announce, Announced: a.Announced(), Poll: 100 * time.Millisecond})
		if err := p.r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.lease.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		pctx, stop := context.WithCancel(ctx)
		p.stop = stop
		go func() { p.done <- p.lease.Run(pctx) }()
		if err := p.r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		go func() { p.done <- p.r.Run(pctx) }()
		procs = append(procs, p)
	}
	holder := func(ps []*sharedProc) []string {
		var out []string
		for _, p := range ps {
			if p.r.Leading() && p.lease.Held() {
				out = append(out, p.name)
			}
		}
		return out
	}
	for len(holder(procs)) == 0 { // p0's runner switches to applying
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("no holder")
		}
	}
	if h := holder(procs); len(h) != 1 || h[0] != "p0" {
		t.Fatalf("holders %v, want exactly p0 (first to start)", h)
	}
	// Observers on every process, while events keep coming.
	writing := make(chan uint64)
	go func() { writing <- appendN(200) }()
	for _, p := range procs {
		p.r.Tap(func(at uint64) {
			p.snapAt = at
			if n := countSeen(t, p.r); n != at {
				t.Errorf("%s: snapshot shows %d events at checkpoint %d", p.name, n, at)
			}
		}, func(env events.Envelope) bool {
			p.mu.Lock()
			p.tapped = append(p.tapped, env.Seq)
			p.mu.Unlock()
			return true
		})
	}
	last := <-writing
	// Read your writes on a follower: WaitFor returns only when the
	// holder's commit is visible through the follower's own connection.
	for _, p := range procs[1:] {
		if err := p.r.WaitFor(ctx, last); err != nil {
			t.Fatal(err)
		}
		if n := countSeen(t, p.r); n < last {
			t.Fatalf("%s: WaitFor(%d) returned with %d events committed", p.name, last, n)
		}
	}

	// The holder dies without releasing its lease.
	procs[0].stop()
	<-procs[0].done
	<-procs[0].done
	died := time.Now()
	survivors := procs[1:]
	for len(holder(survivors)) != 1 {
		if time.Since(died) > 15*time.Second {
			t.Fatalf("no process took over within 15 s of the holder's death (holders %v)", holder(survivors))
		}
		select {
		case <-survivors[0].lease.Changed():
		case <-survivors[1].lease.Changed():
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("takeover by %v after %s (TTL %s)", holder(survivors), time.Since(died).Round(time.Millisecond), ttl)
	last = appendN(150)
	for _, p := range survivors {
		if err := p.r.WaitFor(ctx, last); err != nil {
			t.Fatal(err)
		}
	}
	// Exactly once, and one holder at a time: the owners by sequence form
	// a run of p0 then a run of the new holder.
	owners := ownersBySeq(t, survivors[0].r)
	if uint64(len(owners)) != last {
		t.Fatalf("%d events applied, want %d", len(owners), last)
	}
	var runs []string
	for i, o := range owners {
		if i == 0 || o != owners[i-1] {
			runs = append(runs, o)
		}
	}
	if h := holder(survivors); len(runs) != 2 || runs[0] != "p0" || runs[1] != h[0] {
		t.Fatalf("owner runs %v, want [p0 %v]", runs, h)
	}
	for _, p := range procs {
		at, got := p.seen()
		want := last
		if p == procs[0] {
			want = at + uint64(len(got)) // it stopped observing when it died
		}
		for i, s := range got {
			if s != at+1+uint64(i) {
				t.Fatalf("%s: observer got %d at %d after a snapshot at %d: gap or repeat", p.name, s, i, at)
			}
		}
		if at+uint64(len(got)) != want {
			t.Fatalf("%s: observer reached %d, want %d", p.name, at+uint64(len(got)), want)
		}
	}
	for _, p := range survivors {
		p.stop()
		for range 2 {
			if err := <-p.done; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
		}
	}
}

func countSeen(t *testing.T, r *SQLRunner) uint64 {
	t.Helper()
	var n int64
	if err := r.DB().QueryRow(context.Background(), `SELECT COUNT(*) FROM `+r.Tables("owned").Name("seen")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return uint64(n)
}

func ownersBySeq(t *testing.T, r *SQLRunner) []string {
	t.Helper()
	rows, err := r.DB().Query(context.Background(), `SELECT owner FROM `+r.Tables("owned").Name("seen")+` ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// lapsingLease is held for its first n questions, then not: the lease
// lapses while a batch is being applied.
type lapsingLease struct {
	mu sync.Mutex
	n  int
	ch chan struct{}
}

func (l *lapsingLease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	return l.n >= 0
}
func (l *lapsingLease) Changed() <-chan struct{} { return l.ch }

// A holder whose lease lapses before its batch commits rolls the batch
// back: neither the model's rows nor the checkpoint move, and observers
// get nothing.
func TestSharedRunnerStopsAtOnceWhenTheLeaseLapses(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := NewSQLRunner(open(), startedLog(t, 12), &seqModel{name: "probe"})
		r.Shared(Share{Lease: &lapsingLease{n: 1, ch: make(chan struct{})}})
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		var got []uint64
		r.Tap(func(uint64) {}, func(env events.Envelope) bool { got = append(got, env.Seq); return true })
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if rows := seenSeqs(t, r.DB(), r.Tables("probe")); len(rows) != 0 {
			t.Fatalf("a batch committed after the lease lapsed: %v", rows)
		}
		if st := r.Status()[0]; st.Seq != 0 || r.Applied() != 0 || len(got) != 0 {
			t.Fatalf("checkpoint %d, applied %d, observed %v after the lease lapsed", st.Seq, r.Applied(), got)
		}
	})
}

// heldLease is always held.
type heldLease struct{}

func (heldLease) Held() bool               { return true }
func (heldLease) Changed() <-chan struct{} { return nil }

// A process that starts applying (here: taking the lease over after a
// rolling upgrade) is told so after rereading the checkpoints, and can
// rebuild the model an older release wrote: the new version is built
// beside it and serves, with every event once.
func TestSharedRunnerOnLeadRebuildsANewVersion(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		log := startedLog(t, 30)
		old := NewSQLRunner(open(), log[:20], &seqModel{name: "probe"})
		if err := old.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := old.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		r := NewSQLRunner(open(), log, &seqModel{name: "probe", version: 2})
		rebuilt := make(chan error, 1)
		r.Shared(Share{Lease: heldLease{}, OnLead: func() {
			// OnLead may come twice as the runner starts; the later
			// call finds the rebuild running (serve's handler is
			// serialised the same way).
			if names := r.NeedsRebuild(); fmt.Sprint(names) == "[probe]" {
				if err := r.Rebuild(ctx, "probe", nil); !errors.Is(err, ErrRebuildRunning) {
					rebuilt <- err
				}
			}
		}})
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		if err := <-rebuilt; err != nil {
			t.Fatal(err)
		}
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		st := r.Status()[0]
		if st.Version != 2 || st.Generation != 2 || st.State != StateRunning || len(r.NeedsRebuild()) != 0 {
			t.Fatalf("after the takeover's rebuild: %+v", st)
		}
		if got := seenSeqs(t, r.DB(), r.Tables("probe")); len(got) != 30 {
			t.Fatalf("new version holds %d events, want 30", len(got))
		}
		cancel()
		<-done
	})
}

// heldLog is a log whose Follow waits at its end, as the real one does.
type heldLog struct{ sliceLog }

func (l heldLog) Follow(ctx context.Context, f string, from uint64, fn func(events.Envelope) error) error {
	if err := l.Read(ctx, f, from, fn); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// A holder with nothing to apply still notices a rebuild another process
// switched (the projections command, or a rebuild on another serve): it
// serves the new generation within a poll, and the retired one is not
// dropped from under it before the grace. It used to serve the retired
// generation until the next event, and every read was a 503 once the next
// rebuild dropped it.
func TestAnIdleHolderFollowsASwitchMadeElsewhere(t *testing.T) {
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		log := heldLog{startedLog(t, 12)}
		holder := NewSQLRunner(open(), log, &seqModel{name: "probe"})
		holder.Shared(Share{Lease: heldLease{}, Poll: 50 * time.Millisecond})
		if err := holder.Open(ctx); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- holder.Run(ctx) }()
		if err := holder.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		before := holder.Status()[0].Generation

		cmd := NewSQLRunner(open(), log.sliceLog, &seqModel{name: "probe"})
		cmd.RetiredGrace = DefaultRetiredGrace
		if err := cmd.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Rebuild(ctx, "probe", nil); err != nil {
			t.Fatal(err)
		}
		after := cmd.Status()[0].Generation
		if after == before {
			t.Fatalf("the rebuild did not make a new generation (%d)", after)
		}
		if err := cmd.DropRetired(ctx); err != nil {
			t.Fatal(err)
		}
		if kept := generationTables(t, cmd.DB(), "probe", before); len(kept) == 0 {
			t.Fatal("the generation retired a moment ago was dropped while processes may still serve it")
		}
		for holder.Status()[0].Generation != after {
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				t.Fatalf("the idle holder still serves generation %d after the switch to %d", holder.Status()[0].Generation, after)
			}
		}
		if got := seenSeqs(t, holder.DB(), holder.Tables("probe")); len(got) != 12 {
			t.Fatalf("the holder reads %d events from the new generation, want 12", len(got))
		}
		cancel()
		<-done
	})
}
