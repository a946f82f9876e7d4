package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/tagstream/tagstream/events"
)

// What readers of an SQLRunner see: how far it is, waiting for a write,
// observing committed events, and each model's state.

// Applied is the sequence every running model has committed.
func (r *SQLRunner) Applied() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}

// WaitFor blocks until the event at seq is committed in every running
// model, so a handler can answer with its own writes visible. A failed
// model that stopped before seq makes it return ErrModelFailed at once.
func (r *SQLRunner) WaitFor(ctx context.Context, seq uint64) error {
	for {
		r.mu.Lock()
		applied, ch := r.applied, r.changed
		var failed *modelRun
		for _, mr := range r.models {
			if mr.state == StateFailed && mr.seq < seq {
				failed = mr
			}
		}
		r.mu.Unlock()
		if failed != nil {
			return fmt.Errorf("%w: %s stopped at seq %d: %s", ErrModelFailed, failed.m.Name(), failed.failedSeq, failed.reason)
		}
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("read models are behind the log (at %d, waiting for %d): %w", applied, seq, ctx.Err())
		}
	}
}

// Sync waits until everything in the log when Sync was called is applied.
func (r *SQLRunner) Sync(ctx context.Context) error {
	last, err := r.src.LastSeq(ctx)
	if err != nil {
		return err
	}
	r.noteHead(last)
	return r.WaitFor(ctx, last)
}

// Tap runs snapshot with the read models exactly as of a committed
// checkpoint, then calls deliver for every later event, in order, after
// it has been committed. No event falls between the snapshot and the first
// delivery, none is delivered twice. deliver must not block; returning
// false removes the tap. The returned function removes it too.
func (r *SQLRunner) Tap(snapshot func(applied uint64), deliver func(events.Envelope) bool) (untap func()) {
	if r.shared != nil {
		return r.tapShared(snapshot, deliver)
	}
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	snapshot(r.Applied())
	id := r.nextTap
	r.nextTap++
	r.taps[id] = deliver
	return func() {
		r.pubMu.Lock()
		delete(r.taps, id)
		r.pubMu.Unlock()
	}
}

// noteHead records the log's newest sequence, for the lag.
func (r *SQLRunner) noteHead(seq uint64) {
	r.mu.Lock()
	if seq > r.headSeq {
		r.headSeq, r.headTime = seq, time.Now()
	}
	r.mu.Unlock()
}

// Status reports every model's state and checkpoint.
func (r *SQLRunner) Status() []ModelStatus { return r.StatusAt(0) }

// StatusAt is Status with each model's lag behind last, the log's last
// sequence (0: unknown, no lag). The lag in seconds is the time since the
// model was last known to be level with the log: its newest event's time
// or the last commit that found nothing more to read, whichever is later.
func (r *SQLRunner) StatusAt(last uint64) []ModelStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	out := make([]ModelStatus, 0, len(r.models))
	for _, mr := range r.models {
		st := ModelStatus{Name: mr.m.Name(), Version: mr.m.Version(), Generation: mr.gen, State: mr.state,
			Seq: mr.seq, FailedSeq: mr.failedSeq, Reason: mr.reason, Updated: mr.updated}
		if last > mr.seq {
			st.LagEvents = last - mr.seq
			since := mr.lastTime
			if mr.state == StateRunning && r.caughtUp.After(since) {
				since = r.caughtUp
			}
			if since.IsZero() {
				since = mr.updated
			}
			st.LagSeconds = max(now.Sub(since).Seconds(), 0)
		}
		if mr.rebuild != nil {
			p := *mr.rebuild
			st.Rebuild = &p
			if st.State == StateRunning {
				st.State = StateRebuilding
			}
		}
		out = append(out, st)
	}
	return out
}
