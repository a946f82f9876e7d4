package projections

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/events/sealed"
	"github.com/tagstream/tagstream/internal/datakeys"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// Over a sealed log (as serve's is), a rebuild reads the store underneath
// and opens events in its decoding stage: the rebuilt models equal the
// live ones, which read through the sealing store, including a job whose
// key was destroyed (its document data reads as erased).
func TestRebuildOverASealedLogEqualsLive(t *testing.T) {
	ctx := context.Background()
	conn := natstest.Start(t, "")
	raw, err := jsstore.Open(ctx, conn.JS, jsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := datakeys.Open(ctx, conn.JS, 1, bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	log := sealed.New(raw, keys)
	for _, env := range busyLog(t, 8) {
		if _, err := log.Append(ctx, env, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := keys.Destroy(ctx, "job-3"); err != nil {
		t.Fatal(err)
	}
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		search := NewDocumentSearch()
		r := NewSQLRunner(open(), log, JobStatusModel{}, ResultsModel{}, search)
		r.BatchSize = 17
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		live, liveSearch := sqlDump(t, r), dumpSearchTables(t, r.DB(), r.Tables(DocumentSearchName))
		for _, name := range []string{JobStatusName, DocumentResultsName, DocumentSearchName} {
			if err := r.Rebuild(ctx, name, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got := sqlDump(t, r); !bytes.Equal(got, live) {
			t.Fatalf("rebuilt models differ from the live ones: %s", firstDiff(got, live))
		}
		if got := dumpSearchTables(t, r.DB(), r.Tables(DocumentSearchName)); got != liveSearch {
			t.Fatalf("rebuilt search differs from the live one: %s", lineDiff(got, liveSearch))
		}
		if !bytes.Contains(live, []byte("Doc 0 of job-1")) {
			t.Fatal("the live dump has no opened document data: the comparison proves little")
		}
	})
}

// dumpTables prints every row of the named tables of generation tb, in
// the order given for each.
func dumpTables(t *testing.T, db *sqldb.DB, tb Tables, orders map[string]string) string {
	t.Helper()
	names := make([]string, 0, len(orders))
	for n := range orders {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		rows, err := db.Query(context.Background(), `SELECT * FROM `+tb.Name(n)+` ORDER BY `+orders[n])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:\n", n)
		for _, vals := range rowValues(t, rows) {
			fmt.Fprintf(&b, "%v\n", vals)
		}
	}
	return b.String()
}

// Document results' batches hold submitted chunks in memory until a start
// claims them or the batch ends: the tables, inputs included, are exactly
// those Apply leaves event by event, whatever the batch boundaries, with
// a chunk submitted twice (again just before its start, batches after
// the first time), and one for a job that never starts.
func TestResultsHeldChunksEqualApply(t *testing.T) {
	log := busyLog(t, 9)
	extra := func(job string, ev events.Event) {
		env, err := events.New(job, events.System, ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Seq = uint64(len(log) + 1)
		log = append(log, env)
	}
	docs := []events.Document{{Row: 0, Title: "late"}, {Row: 1, Title: "late too", Extra: map[string]any{"k": 1.5}}}
	extra("job-late", events.DocumentsSubmitted{InputID: "in-late", Documents: docs})
	extra("job-orphan", events.DocumentsSubmitted{InputID: "in-orphan", Documents: docs[:1]})
	for range 7 {
		extra("job-ghost", events.DocumentStarted{Row: 0, Attempt: 1})
	}
	extra("job-late", events.DocumentsSubmitted{InputID: "in-late", Documents: docs[1:]})
	extra("job-late", events.JobStarted{InputID: "in-late", Chunks: 1, Total: 2})
	extra("job-late", events.DocumentTagged{Row: 1, Attempt: 1, Tags: []string{"x"}})
	loaded := loadedEvents(log)
	orders := map[string]string{"jobs": "job_id", "rows": "job_id, row_no", "inputs": "input_id, chunk"}
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		db := open()
		gen := 1
		fold := func(size int) string {
			tb := tablesFor(DocumentResultsName, gen)
			gen++
			tx, err := db.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := (ResultsModel{}).Create(ctx, tx, tb); err != nil {
				t.Fatal(err)
			}
			for from := 0; from < len(loaded); from += max(size, 1) {
				batch := loaded[from:min(from+max(size, 1), len(loaded))]
				if size == 0 {
					for _, env := range batch {
						if err := (ResultsModel{}).Apply(ctx, tx, tb, env); err != nil {
							t.Fatal(err)
						}
					}
					continue
				}
				if err := (ResultsModel{}).ApplyBatch(ctx, tx, tb, batch); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			return dumpTables(t, db, tb, orders)
		}
		want := fold(0)
		if !strings.Contains(want, "in-orphan") {
			t.Fatal("the orphan chunk is not in the inputs table: the log does not test what it says")
		}
		for _, size := range []int{1, 2, 3, 4, 9, 29, len(loaded)} {
			if got := fold(size); got != want {
				t.Fatalf("batches of %d differ from Apply: %s", size, lineDiff(got, want))
			}
		}
	})
}
