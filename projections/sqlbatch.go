package projections

import (
	"context"
	"database/sql"
	"sort"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// BatchApplier is a SQLModel that can fold a whole batch at once: read
// each row it needs once, step it in memory through every event of the
// batch, and write it back once (multi-row upserts), instead of a read
// and a write per event. It must leave the tables exactly as Apply over
// the same events would. The runner calls it inside the model's
// savepoint; on an error it rolls the savepoint back and applies the
// batch again event by event through Apply, so a failure still names its
// event and the model still fails alone.
//
// An implementation handles the hot events itself and hands every other
// event to Apply after writing back what it holds (see writeBehind), so
// Apply stays the one place each event's rule is stated.
type BatchApplier interface {
	ApplyBatch(ctx context.Context, tx *sqldb.Tx, t Tables, evs []events.Envelope) error
}

// writeBehind is one batch's in-memory state of a model's rows.
type writeBehind interface {
	// apply folds env and reports false if env is not one it folds.
	apply(env events.Envelope) (bool, error)
	// flush writes every changed row back.
	flush() error
	// reset forgets every row read (Apply may change them next).
	reset()
}

// batchRows is what every model's write-behind state starts from.
type batchRows struct {
	ctx   context.Context
	tx    *sqldb.Tx
	t     Tables
	spans map[string]rowSpan // per job, the document rows evs touch
}

func newBatchRows(ctx context.Context, tx *sqldb.Tx, t Tables, evs []events.Envelope) batchRows {
	return batchRows{ctx: ctx, tx: tx, t: t, spans: docSpans(evs)}
}

// applyWriteBehind drives w over evs; events w does not fold go to apply
// (the model's Apply) after w has written back and before it reads again.
func applyWriteBehind(w writeBehind, evs []events.Envelope, apply func(events.Envelope) error) error {
	w.reset()
	for _, env := range evs {
		ok, err := w.apply(env)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if err := w.flush(); err != nil {
			return err
		}
		w.reset()
		if err := apply(env); err != nil {
			return err
		}
	}
	return w.flush()
}

// rowSpan is the range of document rows of one job a batch touches: a
// batch reads them in one range query.
type rowSpan struct{ lo, hi int }

// docSpans collects, per job, the rows that document events in evs name.
func docSpans(evs []events.Envelope) map[string]rowSpan {
	spans := map[string]rowSpan{}
	for _, env := range evs {
		ev, err := env.Decode()
		if err != nil {
			continue
		}
		row := -1
		switch e := ev.(type) {
		case *events.DocumentStarted:
			row = e.Row
		case *events.DocumentTagged:
			row = e.Row
		case *events.DocumentFailed:
			row = e.Row
		case *events.DocumentReleased:
			row = e.Row
		}
		if row < 0 {
			continue
		}
		s, ok := spans[env.JobID]
		if !ok {
			s = rowSpan{row, row}
		}
		spans[env.JobID] = rowSpan{min(s.lo, row), max(s.hi, row)}
	}
	return spans
}

// upsert writes rows with multi-row INSERT ... ON CONFLICT statements of
// up to chunk rows each (one prepared statement per chunk size). tuple is
// one row's VALUES tuple, e.g. "(?, ?, ”)"; tail is the ON CONFLICT
// clause.
func upsert(ctx context.Context, tx *sqldb.Tx, head, tuple, tail string, rows [][]any, chunk int) error {
	for from := 0; from < len(rows); from += chunk {
		end := min(from+chunk, len(rows))
		var b strings.Builder
		b.WriteString(head)
		var args []any
		for i := from; i < end; i++ {
			if i > from {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			args = append(args, rows[i]...)
		}
		b.WriteString(tail)
		if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// placeholders is n comma-separated parameters, "?, ?, ?", for a VALUES
// tuple or an IN list.
func placeholders(n int) string { return "?" + strings.Repeat(", ?", n-1) }

// anys is ss as statement arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// excluded is "a = excluded.a, b = excluded.b" for an upsert's update.
func excluded(cols ...string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + " = excluded." + c
	}
	return strings.Join(parts, ", ")
}

// rowCache holds the document rows of the jobs a batch touches, read a
// span of rows at a time.
type rowCache[T any] struct {
	rows    map[string]map[int]*T
	covered map[string]rowSpan // rows of the job already read: one absent from rows does not exist
}

func newRowCache[T any]() rowCache[T] {
	return rowCache[T]{rows: map[string]map[int]*T{}, covered: map[string]rowSpan{}}
}

// get returns a job's row; the first time, it reads the batch's span of
// the job's rows with query (its arguments: job, first row, last row),
// scan giving each row's number and value. nil: no such row.
func (c *rowCache[T]) get(b batchRows, job string, row int, query string, scan func(*sql.Rows) (int, *T, error)) (*T, error) {
	if r := c.rows[job][row]; r != nil {
		return r, nil
	}
	if s, ok := c.covered[job]; ok && row >= s.lo && row <= s.hi {
		return nil, nil
	}
	s, ok := b.spans[job]
	if !ok || row < s.lo || row > s.hi {
		s = rowSpan{row, row}
	}
	rows, err := b.tx.Query(b.ctx, query, job, s.lo, s.hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		n, r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		if c.rows[job] == nil {
			c.rows[job] = map[int]*T{}
		}
		if c.rows[job][n] == nil { // one held is newer
			c.rows[job][n] = r
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.covered[job] = s
	return c.rows[job][row], nil
}

// made holds the rows of a job the batch created, all of them.
func (c *rowCache[T]) made(job string, rows map[int]*T) {
	c.rows[job], c.covered[job] = rows, rowSpan{0, len(rows) - 1}
}

// each calls fn for the rows keep selects, by job then row.
func (c *rowCache[T]) each(keep func(*T) bool, fn func(job string, row int, r *T)) {
	jobs := make([]string, 0, len(c.rows))
	for job := range c.rows {
		jobs = append(jobs, job)
	}
	sort.Strings(jobs)
	for _, job := range jobs {
		nums := make([]int, 0, len(c.rows[job]))
		for n, r := range c.rows[job] {
			if keep(r) {
				nums = append(nums, n)
			}
		}
		sort.Ints(nums)
		for _, n := range nums {
			fn(job, n, c.rows[job][n])
		}
	}
}
