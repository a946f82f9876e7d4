package projections

import (
	"context"
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

// applyWriteBehind drives w over evs; events w does not fold go to apply
// (the model's Apply) after w has written back and before it reads again.
func applyWriteBehind(w writeBehind, evs []events.Envelope, apply func(events.Envelope) error) error {
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

// excluded is "a = excluded.a, b = excluded.b" for an upsert's update.
func excluded(cols ...string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + " = excluded." + c
	}
	return strings.Join(parts, ", ")
}
