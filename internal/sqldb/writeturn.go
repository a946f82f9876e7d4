package sqldb

import (
	"context"
	"time"
)

// SQLite lets one writer in at a time, and one that finds the file locked
// polls (busy_timeout), sleeping longer and longer between tries. A
// rebuild commits its batches back to back, so the live runner's commit,
// which a command waits on (read your writes), kept finding the lock
// taken: measured, it waited 6 s behind a 300,000-event search rebuild's
// loading, and the wait grew with the history. Writers of this process
// therefore take turns in the order they asked (a channel's waiting
// senders are served first in, first out), and the lock itself only
// arbitrates between this process and another one, such as the
// projections command.
//
// A turn is not waited for longer than busyWait: past it the writer goes
// on and SQLite's own busy handling decides as before, so a statement
// that waits for a turn its own goroutine holds stalls for that long
// rather than for ever.
const busyWait = 10 * time.Second

// turns is a process's queue of SQLite writers; nil on PostgreSQL.
type turns chan struct{}

func newTurns(d Dialect) turns {
	if d != SQLite {
		return nil
	}
	return make(turns, 1)
}

// take waits for a turn, and returns the func that ends it (a no-op when
// none was taken: on PostgreSQL, or after busyWait).
func (t turns) take(ctx context.Context) (func(), error) {
	if t == nil {
		return func() {}, nil
	}
	select {
	case t <- struct{}{}:
	default:
		timer := time.NewTimer(busyWait)
		defer timer.Stop()
		select {
		case t <- struct{}{}:
		case <-timer.C:
			return func() {}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	done := false
	return func() {
		if !done {
			done = true
			<-t
		}
	}, nil
}
