// Package sealed is the events.Store decorator that keeps document data
// encrypted in the log: it seals on Append and opens on Last, Read and
// Follow, under each job's data key, so commands, projections, workers and
// the API keep handling plaintext structs. Only the hash-chained export
// reads the store underneath, to export the bytes as stored.
package sealed

import (
	"context"

	"github.com/tagstream/tagstream/events"
)

// Keys hands out a job's data key.
type Keys interface {
	// ForAppend returns the job's key, creating it on first use; it fails
	// once the key was destroyed (the job was erased).
	ForAppend(ctx context.Context, jobID string) (events.Cipher, error)
	// ForRead returns the job's key, or nil when it is gone (destroyed).
	ForRead(ctx context.Context, jobID string) (events.Cipher, error)
}

// Store seals and opens around another store.
type Store struct {
	events.Store
	keys Keys
}

// New wraps inner.
func New(inner events.Store, keys Keys) *Store { return &Store{Store: inner, keys: keys} }

// Inner is the store underneath, whose events are as stored (sealed).
func (s *Store) Inner() events.Store { return s.Store }

// Append implements events.Store.
func (s *Store) Append(ctx context.Context, env events.Envelope, expect *events.Expect) (uint64, error) {
	if events.Sealable(env.Type) {
		c, err := s.keys.ForAppend(ctx, env.JobID)
		if err != nil {
			return 0, err
		}
		if env, err = events.Seal(env, c); err != nil {
			return 0, err
		}
	}
	return s.Store.Append(ctx, env, expect)
}

// Last implements events.Store.
func (s *Store) Last(ctx context.Context, subject string) (events.Envelope, error) {
	env, err := s.Store.Last(ctx, subject)
	if err != nil {
		return env, err
	}
	return s.open(ctx, env)
}

// Read implements events.Store.
func (s *Store) Read(ctx context.Context, filter string, from uint64, fn func(events.Envelope) error) error {
	return s.Store.Read(ctx, filter, from, s.opening(ctx, fn))
}

// Follow implements events.Store.
func (s *Store) Follow(ctx context.Context, filter string, from uint64, fn func(events.Envelope) error) error {
	return s.Store.Follow(ctx, filter, from, s.opening(ctx, fn))
}

func (s *Store) opening(ctx context.Context, fn func(events.Envelope) error) func(events.Envelope) error {
	return func(env events.Envelope) error {
		env, err := s.open(ctx, env)
		if err != nil {
			return err
		}
		return fn(env)
	}
}

// open decrypts a sealed event; events without document data pass as they are.
func (s *Store) open(ctx context.Context, env events.Envelope) (events.Envelope, error) {
	if !events.Sealable(env.Type) {
		return env, nil
	}
	return events.Open(env, func() (events.Cipher, error) { return s.keys.ForRead(ctx, env.JobID) })
}

// Open opens one event of the store underneath as Read would: for a
// reader that reads Inner itself and opens elsewhere (a projection
// rebuild opens beside its reading, and never the events it ignores).
func (s *Store) Open(ctx context.Context, env events.Envelope) (events.Envelope, error) {
	return s.open(ctx, env)
}
