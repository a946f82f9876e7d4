package projections

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

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
	if db.Dialect == sqldb.SQLite {
		b.WriteString(dumpFTS(t, db, tb.Name("fts")))
	}
	return b.String()
}

// dumpFTS prints every token the contentless FTS5 table fts holds, by
// rowid, column and position: what it indexes, which it keeps no copy of.
func dumpFTS(t *testing.T, db *sqldb.DB, fts string) string {
	t.Helper()
	ctx := context.Background()
	c, err := db.SQL.Conn(ctx) // the temp table is this connection's
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `CREATE VIRTUAL TABLE temp.`+fts+`_vocab USING fts5vocab(main, `+fts+`, 'instance')`); err != nil {
		t.Fatal(err)
	}
	defer c.ExecContext(ctx, `DROP TABLE temp.`+fts+`_vocab`)
	rows, err := c.QueryContext(ctx, `SELECT doc, col, "offset", term FROM temp.`+fts+`_vocab ORDER BY doc, col, "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, vals := range rowValues(t, rows) {
		fmt.Fprintf(&b, "fts %v\n", vals)
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

// inputEdges is a log of the submitted chunks' edge cases: a chunk
// submitted again with other documents, an input id two jobs share (and
// one whose first start claims none of its chunks), a start with no
// chunk, a chunk that comes after its job's start; each document then
// tagged.
func inputEdges(t *testing.T) []events.Envelope {
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var envs []events.Envelope
	add := func(job string, ev events.Event) {
		env, err := events.New(job, events.User("u-"+job, job+"@example.com"), ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Time = base.Add(time.Duration(len(envs)) * time.Second)
		env.Seq = uint64(len(envs) + 1)
		envs = append(envs, env)
	}
	docs := func(tag string, rows ...int) []events.Document {
		var out []events.Document
		for _, r := range rows {
			out = append(out, events.Document{Row: r, FilePath: fmt.Sprintf("%s-%d.pdf", tag, r), Title: tag + " title " + strconv.Itoa(r)})
		}
		return out
	}
	start := func(job, input string, total int) {
		add(job, events.JobStarted{InputID: input, Chunks: 2, Total: total, OrgID: "org-" + job})
	}
	add("job-a", events.DocumentsSubmitted{InputID: "in-a", Chunk: 0, Documents: docs("first", 0, 1)})
	add("job-a", events.DocumentsSubmitted{InputID: "in-a", Chunk: 0, Documents: docs("second", 0, 1)})
	add("job-a", events.DocumentsSubmitted{InputID: "in-a", Chunk: 1, Documents: docs("a", 2)})
	add("job-b", events.DocumentsSubmitted{InputID: "shared", Chunk: 0, Documents: docs("b", 0)})
	add("job-c", events.DocumentsSubmitted{InputID: "shared", Chunk: 1, Documents: docs("c", 1)})
	start("job-a", "in-a", 3)
	start("job-b", "shared", 2)
	start("job-c", "shared", 2)
	start("job-d", "in-d", 2)
	add("job-g", events.DocumentsSubmitted{InputID: "shared2", Chunk: 0, Documents: docs("g", 0)})
	start("job-f", "shared2", 2)
	start("job-g", "shared2", 2)
	add("job-e", events.DocumentsSubmitted{InputID: "in-e", Chunk: 0, Documents: docs("e", 0)})
	start("job-e", "in-e", 2)
	add("job-e", events.DocumentsSubmitted{InputID: "in-e", Chunk: 1, Documents: docs("late", 1)})
	for _, job := range []string{"job-a", "job-b", "job-c", "job-d", "job-e", "job-f", "job-g"} {
		for row := range 3 {
			add(job, events.DocumentStarted{Row: row, Attempt: 1})
			add(job, events.DocumentTagged{Row: row, Attempt: 1, Tags: []string{"t-" + job, "शिक्षा"}})
		}
		add(job, events.JobCompleted{Processed: 2})
	}
	for i := range envs {
		if err := envs[i].Load(); err != nil {
			t.Fatal(err)
		}
	}
	return envs
}

// The models that hold submitted chunks in a batch (results, search)
// leave their tables as Apply does over inputEdges, whatever the batch
// boundaries (TestResultsHeldChunksEqualApply adds results' own cases).
func TestHeldChunkEdgesEqualApply(t *testing.T) {
	evs := inputEdges(t)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		db := open()
		gen := 1
		for _, m := range []SQLModel{ResultsModel{}, NewDocumentSearch()} {
			dump := func(tb Tables) string {
				if m.Name() == DocumentResultsName {
					return dumpTables(t, db, tb, map[string]string{"jobs": "job_id", "rows": "job_id, row_no", "inputs": "input_id, chunk"})
				}
				return dumpSearchTables(t, db, tb)
			}
			for _, size := range []int{1, 3, 7, len(evs)} {
				var dumps [2]string
				for i, batched := range []bool{false, true} {
					tb := tablesFor(m.Name(), gen)
					gen++
					tx, err := db.Begin(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if err := m.Create(ctx, tx, tb); err != nil {
						t.Fatal(err)
					}
					for from := 0; from < len(evs); from += size {
						batch := evs[from:min(from+size, len(evs))]
						if batched {
							err = m.(BatchApplier).ApplyBatch(ctx, tx, tb, batch)
						}
						for _, env := range batch {
							if !batched && err == nil {
								err = m.Apply(ctx, tx, tb, env)
							}
						}
						if err != nil {
							t.Fatalf("%s, batches of %d: %v", m.Name(), size, err)
						}
					}
					if err := tx.Commit(); err != nil {
						t.Fatal(err)
					}
					dumps[i] = dump(tb)
				}
				if !strings.Contains(dumps[0], "a title 2") || !strings.Contains(dumps[0], "late-1.pdf") {
					t.Fatalf("%s: the log's chunks are not in the tables:\n%s", m.Name(), dumps[0])
				}
				if dumps[1] != dumps[0] {
					t.Fatalf("%s, batches of %d differ from Apply:\n%s", m.Name(), size, lineDiff(dumps[1], dumps[0]))
				}
			}
		}
	})
}
