package events

import (
	"context"
	"errors"
)

// ErrConflict means an append's expectation failed: another event was
// stored on the expected subject since the caller read it.
var ErrConflict = errors.New("events: concurrent modification")

// ErrNotFound means no event is stored on the subject.
var ErrNotFound = errors.New("events: not found")

// ErrUnavailable means the store cannot be reached right now (its server
// is down, unreachable or too slow): the request may succeed if retried,
// and the API answers 503 rather than 500. Stores wrap their own errors
// with it, so callers never need to know what the store runs on.
var ErrUnavailable = errors.New("events: store unavailable")

// Expect makes an append conditional on the last sequence stored on Subject
// (which may be a wildcard, and need not be the subject appended to). Seq 0
// means no event may exist on Subject yet.
type Expect struct {
	Subject string
	Seq     uint64
}

// Store is the event log. Implementations must pass storetest.Run.
type Store interface {
	// Append stores env on env.Subject and returns its sequence. env.ID is
	// the idempotency key: appending an envelope that is already stored
	// returns the stored sequence instead of a second copy or a conflict.
	Append(ctx context.Context, env Envelope, expect *Expect) (uint64, error)
	// Last returns the last event stored on subject, or ErrNotFound.
	Last(ctx context.Context, subject string) (Envelope, error)
	// Read calls fn, in order, for every event matching filter from
	// sequence from (1 = the beginning) up to the end of the log as it was
	// when Read began.
	Read(ctx context.Context, filter string, from uint64, fn func(Envelope) error) error
	// Follow is Read that does not stop at the end: it waits for new events
	// until ctx is done or fn fails.
	Follow(ctx context.Context, filter string, from uint64, fn func(Envelope) error) error
	// LastSeq returns the sequence of the newest job event in the log
	// (events.SubjectAll: what the read models follow; an organisation's
	// event after it is not counted).
	LastSeq(ctx context.Context) (uint64, error)
}
