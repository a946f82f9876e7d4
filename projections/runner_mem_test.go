package projections

import (
	"context"
	"fmt"
	"sync"

	"github.com/tagstream/tagstream/events"
)

// The in-memory runner: serve uses the SQLRunner; this one feeds the
// in-memory reference models in tests and benchmarks.

// Runner applies the log to a set of projections, in order, once each.
type Runner struct {
	src         Source
	projections []Projection
	skips       *events.Skips // nil: skipped events are only not applied

	applyMu sync.Mutex // held for a whole event: projections, then taps
	taps    map[int]func(events.Envelope) bool
	nextTap int

	mu      sync.Mutex
	applied uint64
	changed chan struct{} // closed and replaced whenever applied moves
}

// NewRunner returns a runner over the projections, starting at sequence 1.
func NewRunner(src Source, ps ...Projection) *Runner {
	return &Runner{src: src, projections: ps, changed: make(chan struct{}), taps: map[int]func(events.Envelope) bool{}}
}

// CountSkips makes the runner report the events it skips (a type or
// version this build does not know) to s. Call it before CatchUp or Run.
func (r *Runner) CountSkips(s *events.Skips) { r.skips = s }

// CatchUp applies every event up to the end of the log as it is now.
func (r *Runner) CatchUp(ctx context.Context) error {
	return r.src.Read(ctx, events.SubjectAll, r.Applied()+1, r.apply)
}

// Run applies events as they arrive until ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	return r.src.Follow(ctx, events.SubjectAll, r.Applied()+1, r.apply)
}

func (r *Runner) apply(env events.Envelope) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.mu.Lock()
	skip := env.Seq <= r.applied
	r.mu.Unlock()
	if skip {
		return nil
	}
	err := env.Load()
	switch {
	case events.IsUnknown(err):
		// Written by a newer release: the models cannot fold what they do
		// not know, and stopping here would freeze every other job. Skip
		// it, count it, and move on; observers never see it either.
		r.skips.Skip(events.ReaderProjections, env, err)
		r.advance(env.Seq)
		return nil
	case err != nil:
		return fmt.Errorf("seq %d: %w", env.Seq, err)
	}
	for _, p := range r.projections {
		if err := p.Apply(env); err != nil {
			return fmt.Errorf("projection %s at seq %d: %w", p.Name(), env.Seq, err)
		}
	}
	for id, tap := range r.taps {
		if !tap(env) {
			delete(r.taps, id)
		}
	}
	r.advance(env.Seq)
	return nil
}

func (r *Runner) advance(seq uint64) {
	r.mu.Lock()
	r.applied = seq
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Applied is the sequence of the last event applied.
func (r *Runner) Applied() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}

// WaitFor blocks until the event at seq has been applied, so a handler can
// answer from projections with its own writes visible.
func (r *Runner) WaitFor(ctx context.Context, seq uint64) error {
	for {
		r.mu.Lock()
		applied, ch := r.applied, r.changed
		r.mu.Unlock()
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
func (r *Runner) Sync(ctx context.Context) error {
	last, err := r.src.LastSeq(ctx)
	if err != nil {
		return err
	}
	return r.WaitFor(ctx, last)
}

// Tap runs snapshot with the read models exactly as of the last applied
// event, then calls deliver for every later event, in order, after the
// models have applied it. Both run under the runner's apply lock, so no
// event falls between the snapshot and the first delivery, and none is
// delivered twice. deliver must not block; returning false removes the
// tap. The returned function removes it too.
func (r *Runner) Tap(snapshot func(applied uint64), deliver func(events.Envelope) bool) (untap func()) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	snapshot(r.Applied())
	id := r.nextTap
	r.nextTap++
	r.taps[id] = deliver
	return func() {
		r.applyMu.Lock()
		delete(r.taps, id)
		r.applyMu.Unlock()
	}
}
