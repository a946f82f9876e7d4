package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// A follower on a shared read database (see sqlshare.go): it reads the
// log itself and passes each event to observers, and to WaitFor, once the
// holder's checkpoints show it committed; a tap's snapshot is taken with
// those checkpoints held still.

// committedLocked is how far the holder has committed every running model
// (ok false when no model is running: nothing to wait for).
func (r *SQLRunner) committedLocked() (seq uint64, ok bool) {
	for _, mr := range r.models {
		if mr.state != StateRunning {
			continue
		}
		if !ok || mr.seq < seq {
			seq, ok = mr.seq, true
		}
	}
	return seq, ok
}

// follow reads the log after what observers have had and passes each
// event on once the holder's checkpoints show it committed.
func (r *SQLRunner) follow(ctx context.Context) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, readErr := r.readLog(rctx, true, r.Applied()+1)
	if err := r.reload(ctx); err != nil {
		return err
	}
	var pending []events.Envelope
	idle := time.NewTicker(r.shared.Poll)
	defer idle.Stop()
	for {
		for len(pending) == 0 {
			select {
			case env, ok := <-ch:
				if !ok {
					return <-readErr
				}
				pending = append(pending, env)
			case <-idle.C:
				if r.shared.Lease.Held() {
					return nil // ours now, whether or not Changed said so: apply
				}
				// Nothing new in the log: still see a failure or a
				// generation switch made elsewhere.
				if err := r.reload(ctx); err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pending = fillBatch(ch, pending, r.batchSize(), time.Now().Add(r.batchWait()))
		r.mu.Lock()
		upTo, ok := r.committedLocked()
		r.mu.Unlock()
		n := len(pending)
		if ok {
			n = 0
			for n < len(pending) && pending[n].Seq <= upTo {
				n++
			}
		}
		if n == 0 {
			if err := r.awaitCommit(ctx); err != nil {
				return err
			}
			continue
		}
		r.pass(pending[:n], len(ch) == 0 && n == len(pending))
		pending = append(pending[:0], pending[n:]...)
	}
}

// awaitCommit waits for an announcement or the poll, then rereads the
// checkpoints.
func (r *SQLRunner) awaitCommit(ctx context.Context) error {
	t := time.NewTimer(r.shared.Poll)
	defer t.Stop()
	select {
	case <-r.shared.Announced:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.reload(ctx)
}

// pass hands committed events to the observers and moves Applied.
func (r *SQLRunner) pass(evs []events.Envelope, caughtUp bool) {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	prev := r.Applied()
	var last events.Envelope
	for _, env := range evs {
		if env.Seq <= prev {
			continue
		}
		last = env
		err := env.Load()
		if events.IsUnknown(err) {
			r.skips.Skip(events.ReaderProjections, env, err)
			continue
		}
		if err != nil {
			continue // the holder's model failed on it: its status says so
		}
		for id, tap := range r.taps {
			if !tap(env) {
				delete(r.taps, id)
			}
		}
	}
	if last.Seq == 0 {
		return
	}
	now := time.Now()
	r.mu.Lock()
	r.applied, r.lastTime = last.Seq, last.Time
	for _, mr := range r.models {
		if mr.state == StateRunning && mr.seq >= last.Seq {
			mr.lastTime = last.Time
		}
	}
	if caughtUp {
		r.caughtUp = now
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// tapShared is Tap for a shared database, whose checkpoints another
// process may move: the snapshot is taken while the checkpoint rows are
// held still, and events it already shows are not delivered again.
func (r *SQLRunner) tapShared(snapshot func(applied uint64), deliver func(events.Envelope) bool) (untap func()) {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	at := r.Applied()
	// A follower share-locks the rows: the holder cannot commit until the
	// snapshot is done, so the database is exactly as of the checkpoint.
	// The holder needs no lock: it commits only under pubMu, held here.
	lock := !r.Leading() && r.db.Dialect == sqldb.Postgres
	if _, err := r.checkpointsIn(ctx, lock, func(upTo uint64) { at = max(at, upTo); snapshot(at) }); err != nil {
		snapshot(at) // unreadable or held too long: the runner's own position
	}
	id := r.nextTap
	r.nextTap++
	r.taps[id] = func(env events.Envelope) bool {
		if env.Seq <= at {
			return true // already in the snapshot
		}
		return deliver(env)
	}
	return func() {
		r.pubMu.Lock()
		delete(r.taps, id)
		r.pubMu.Unlock()
	}
}

// checkpointsIn reads the running models' committed checkpoints and calls
// fn with the lowest, with the rows share-locked until fn returns if lock
// is set (taken in the order the holder claims them, so the two never
// deadlock; a generation switch in this process takes pubMu before its
// rows, so it never holds one while the caller holds pubMu). The lock
// lasts as long as ctx (tapShared: 10 s) or sqldb.IdleInTransaction,
// whichever ends first. fn is not called on error.
func (r *SQLRunner) checkpointsIn(ctx context.Context, lock bool, fn func(upTo uint64)) (uint64, error) {
	r.mu.Lock()
	var names []string
	for _, mr := range r.models {
		if mr.state == StateRunning {
			names = append(names, mr.m.Name())
		}
	}
	r.mu.Unlock()
	tx, err := r.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	suffix := ""
	if lock {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '3s'`); err != nil {
			return 0, err
		}
		suffix = " FOR SHARE"
	}
	var upTo uint64
	first := true
	for _, name := range names {
		var seq int64
		var state string
		if err := tx.QueryRow(ctx, `SELECT seq, state FROM projection_checkpoints WHERE name = ? AND serving = 1`+suffix, name).
			Scan(&seq, &state); err != nil {
			return 0, fmt.Errorf("read db: checkpoint of %s: %w", name, err)
		}
		if state == StateRunning && (first || uint64(seq) < upTo) {
			upTo, first = uint64(seq), false
		}
	}
	fn(upTo)
	return upTo, nil
}
