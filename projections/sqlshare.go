package projections

import (
	"context"
	"errors"
	"time"
)

// Several processes on one read database (PostgreSQL): only the holder of
// a lease applies the log; the others follow. A follower reads the log
// itself but applies nothing: it hands each event to its observers, and
// counts it as applied for WaitFor, once the holder's checkpoints show it
// committed. So every process serves reads, read-your-writes and live
// observers, and the database is written by one process at a time (the
// checkpoint claim in applyBatch still refuses an event twice should two
// ever overlap).

// Lease says whether this process may apply now (see internal/lease).
type Lease interface {
	Held() bool
	Changed() <-chan struct{} // closed when Held changes
}

// Share configures a runner that shares its database with other processes.
type Share struct {
	Lease Lease
	// Announce, if set, is called by the holder after each commit with its
	// checkpoint, so followers need not wait for their next poll.
	Announce func(seq uint64)
	// Announced, if set, is signalled when a holder announced a commit.
	// Followers read the checkpoints then, and every Poll in any case.
	Announced <-chan struct{}
	Poll      time.Duration // 0: DefaultSharePoll
	// OnLead, if set, is called (in its own goroutine) each time this
	// runner starts applying, after it has reread the checkpoints: a new
	// holder can then rebuild what NeedsRebuild lists.
	OnLead func()
}

// DefaultSharePoll bounds a follower's delay when an announcement is lost.
const DefaultSharePoll = 500 * time.Millisecond

// errLeaseLost: the lease lapsed before a batch committed; it was rolled
// back and the runner follows instead.
var errLeaseLost = errors.New("projection lease lost")

// sharing is a shared runner's state.
type sharing struct {
	Share
	leading bool // guarded by SQLRunner.mu: the loop is applying
}

// Shared makes the runner one of several processes on its database. Call
// it before CatchUp or Run.
func (r *SQLRunner) Shared(s Share) {
	if s.Poll <= 0 {
		s.Poll = DefaultSharePoll
	}
	r.shared = &sharing{Share: s}
}

// Leading says whether this runner applies the log (always, unshared).
func (r *SQLRunner) Leading() bool {
	if r.shared == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shared.leading
}

// mayCommit is checked before each batch commits.
func (r *SQLRunner) mayCommit() error {
	if r.shared != nil && !r.shared.Lease.Held() {
		return errLeaseLost
	}
	return nil
}

// announce tells followers a batch up to seq is committed.
func (r *SQLRunner) announce(seq uint64) {
	if r.shared != nil && r.shared.Announce != nil {
		r.shared.Announce(seq)
	}
}

// catchUpShared applies the log as it is now if this process holds the
// lease; a follower returns at once (Run follows the holder).
func (r *SQLRunner) catchUpShared(ctx context.Context) error {
	if !r.shared.Lease.Held() {
		return nil
	}
	r.setLeading(true)
	if err := r.consume(ctx, false); err != nil && !errors.Is(err, errLeaseLost) {
		return err
	}
	return nil
}

func (r *SQLRunner) setLeading(v bool) {
	r.pubMu.Lock() // taps see one mode for their whole snapshot
	r.mu.Lock()
	r.shared.leading = v
	r.mu.Unlock()
	r.pubMu.Unlock()
}

// runShared applies while the lease is held and follows otherwise,
// switching whenever the lease changes hands.
func (r *SQLRunner) runShared(ctx context.Context) error {
	for {
		changed := r.shared.Lease.Changed()
		held := r.shared.Lease.Held()
		mctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-changed:
				cancel()
			case <-mctx.Done():
			}
		}()
		r.setLeading(held)
		var err error
		if held {
			// Resume from what the database holds: the last holder may
			// have committed past what this process saw.
			if err = r.reload(mctx); err == nil {
				if r.shared.OnLead != nil {
					go r.shared.OnLead()
				}
				err = r.consume(mctx, true)
			}
		} else {
			err = r.follow(mctx)
		}
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case mctx.Err() != nil, errors.Is(err, errLeaseLost):
			continue // the lease changed hands: switch mode
		case err != nil:
			return err
		}
	}
}

// reload rereads every serving checkpoint (the holder's commits, and
// generation switches made by any process).
func (r *SQLRunner) reload(ctx context.Context) error {
	for _, mr := range r.models {
		if err := r.load(ctx, mr); err != nil {
			return err
		}
	}
	return nil
}
