package projections

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// A rebuild neither decodes nor applies the events a model ignores (job
// status: the submitted chunks) but still counts one it could not read;
// the rebuilt models equal the live ones, on both stores.
func TestRebuildSkipsIgnoredEventsAndEqualsLive(t *testing.T) {
	log := busyLog(t, 6)
	// A submitted chunk of a newer release, in the middle of the log: its
	// data would not even parse, so decoding it would fail loudly.
	odd := log[len(log)/2]
	odd.Type, odd.Version, odd.Data = events.TypeDocumentsSubmitted, events.Types.Version(events.TypeDocumentsSubmitted)+1, json.RawMessage(`{"documents":`)
	log = append(log[:len(log)/2:len(log)/2], append(sliceLog{odd}, log[len(log)/2:]...)...)
	for i := range log {
		log[i].Seq = uint64(i + 1)
	}
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := NewSQLRunner(open(), log, JobStatusModel{}, ResultsModel{})
		r.BatchSize = 9
		r.RebuildSkips = events.NewSkips(nil, nil)
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		live := sqlDump(t, r)
		for _, name := range []string{JobStatusName, DocumentResultsName} {
			if err := r.Rebuild(ctx, name, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got := sqlDump(t, r); !bytes.Equal(got, live) {
			t.Fatalf("rebuilt models differ from the live ones: %s", firstDiff(got, live))
		}
		if n := r.RebuildSkips.Count(events.ReaderProjections, events.TypeDocumentsSubmitted); n != 2 {
			t.Fatalf("the unreadable chunk was counted %d times by two rebuilds", n)
		}
		for _, st := range r.Status() {
			if st.Generation != 2 || st.Seq != uint64(len(log)) {
				t.Fatalf("after rebuild %+v", st)
			}
		}
	})
}

// indexNames lists the indexes of the tables whose names start with
// prefix, the prefix cut off.
func indexNames(t *testing.T, db *sqldb.DB, prefix string) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`
	if db.Dialect == sqldb.Postgres {
		q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()`
	}
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(n, prefix) {
			out = append(out, strings.TrimPrefix(n, prefix))
		}
	}
	sort.Strings(out)
	return out
}

// A rebuilt generation gets the indexes its model builds after the load
// (late indexes) before it serves: the same indexes as a generation made
// by Create, and search answers the same through them.
func TestRebuildMakesTheLateIndexes(t *testing.T) {
	log := busyLog(t, 7)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		search := NewDocumentSearch()
		r := NewSQLRunner(open(), log, JobStatusModel{}, search)
		r.BatchSize = 13
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		for _, m := range []SQLModel{JobStatusModel{}, search} {
			before := indexNames(t, r.DB(), tablesFor(m.Name(), 1).Prefix)
			if len(before) < 3 {
				t.Fatalf("%s: generation 1 has indexes %v", m.Name(), before)
			}
			if err := r.Rebuild(ctx, m.Name(), nil); err != nil {
				t.Fatal(err)
			}
			if after := indexNames(t, r.DB(), tablesFor(m.Name(), 2).Prefix); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("%s: rebuilt with indexes %v, generation 1 had %v", m.Name(), after, before)
			}
		}
	})
}

// A connection of the pool that read the schema while the new
// generation's late indexes still existed, and sat idle while the
// rebuild dropped them, must not be where they are made again: SQLite
// checks "already exists" against a connection's cached schema, and the
// rebuild failed with "index ... already exists" when serve's readers
// and live runner had left such a connection in the pool.
func TestRebuildMakesLateIndexesWhateverThePoolCached(t *testing.T) {
	log := busyLog(t, 8)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := caughtUp(t, open(), log, JobStatusModel{})
		var held *sql.Conn
		progress := func(p Progress) {
			switch {
			case held == nil && p.Phase == PhaseLoading:
				// Generation 2 exists with its indexes, not yet dropped:
				// a connection reads the schema and is held aside.
				c, err := r.DB().SQL.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var n int
				if err := c.QueryRowContext(ctx, `SELECT count(*) FROM `+tablesFor(JobStatusName, 2).Name("jobs")).Scan(&n); err != nil {
					t.Fatal(err)
				}
				held = c
			case held != nil && p.Phase == PhaseIndexing:
				held.Close() // back to the pool, the next one it hands out
			}
		}
		if err := r.Rebuild(ctx, JobStatusName, progress); err != nil {
			t.Fatal(err)
		}
		if held == nil {
			t.Fatal("the rebuild reported no loading phase")
		}
		before := indexNames(t, r.DB(), tablesFor(JobStatusName, 1).Prefix)
		if after := indexNames(t, r.DB(), tablesFor(JobStatusName, 2).Prefix); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("rebuilt with indexes %v, generation 1 had %v", after, before)
		}
	})
}
