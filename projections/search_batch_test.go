package projections

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// The document-search model folded a batch at a time (ApplyBatch, not the
// event-by-event fallback) leaves every one of its tables, the full-text
// index included, exactly as Apply over the same events does, whatever
// the batch boundaries, also when each batch comes twice.
func TestDocumentSearchApplyBatchEqualsApply(t *testing.T) {
	loaded := loadedEvents(busyLog(t, 7))
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		db := open()
		m := NewDocumentSearch()
		build := func(gen, size int, twice, batched bool) string {
			tb := tablesFor(m.Name(), gen)
			tx, err := db.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Create(ctx, tx, tb); err != nil {
				t.Fatal(err)
			}
			for from := 0; from < len(loaded); from += size {
				batch := loaded[from:min(from+size, len(loaded))]
				if twice {
					batch = append(append([]events.Envelope{}, batch...), batch...)
				}
				if !batched {
					for _, env := range batch {
						if err := m.Apply(ctx, tx, tb, env); err != nil {
							t.Fatal(err)
						}
					}
					continue
				}
				if err := m.ApplyBatch(ctx, tx, tb, batch); err != nil {
					t.Fatalf("batches of %d: %v", size, err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			return dumpSearchTables(t, db, tb)
		}
		gen := 1
		for _, size := range []int{1, 4, 29, len(loaded)} {
			for _, twice := range []bool{false, true} {
				want := build(gen, size, twice, false)
				if got := build(gen+1, size, twice, true); got != want {
					t.Fatalf("batches of %d (twice %v) differ from Apply:\n%s", size, twice, lineDiff(got, want))
				}
				gen += 2
			}
		}
	})
}

// dumpSearchTables prints every row of the model's tables in key order.
func dumpSearchTables(t *testing.T, db *sqldb.DB, tb Tables) string {
	t.Helper()
	queries := []string{
		`SELECT * FROM ` + tb.Name("jobs") + ` ORDER BY job_id`,
		`SELECT * FROM ` + tb.Name("documents") + ` ORDER BY id`,
		`SELECT * FROM ` + tb.Name("tags") + ` ORDER BY tag, doc_id`,
		`SELECT * FROM ` + tb.Name("inputs") + ` ORDER BY input_id, chunk`,
		`SELECT * FROM ` + tb.Name("outcomes") + ` ORDER BY job_id, row_id, attempt`,
	}
	if db.Dialect == sqldb.SQLite {
		queries = append(queries, `SELECT rowid, keys, body FROM `+tb.Name("fts")+` ORDER BY rowid`)
	}
	var b strings.Builder
	for _, q := range queries {
		rows, err := db.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, vals := range rowValues(t, rows) {
			fmt.Fprintf(&b, "%v\n", vals)
		}
	}
	return b.String()
}

// rowValues reads every row of rows (and closes it) as generic values,
// bytes as strings, for dumps that compare tables whatever their columns.
func rowValues(t *testing.T, rows *sql.Rows) [][]any {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				vals[i] = string(bs)
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d and %d lines", len(g), len(w))
}
