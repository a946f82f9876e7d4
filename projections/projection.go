// Package projections builds Tagstream's read models from the event log.
// Each read model is a named, versioned SQLModel with its own checkpoint,
// applied in log order by the SQLRunner; a model can always be rebuilt by
// replaying from sequence 1. The in-memory models (JobStatus,
// DocumentResults) are the reference the SQL ones are tested against.
package projections

import (
	"context"

	"github.com/tagstream/tagstream/events"
)

// Projection is a read model built only from events. Apply must be
// idempotent: the runner skips events it has already applied, but a model
// must still tolerate seeing an event twice.
type Projection interface {
	// Name identifies the model; it is its consumer name and never changes
	// casually.
	Name() string
	// Apply folds one event into the model.
	Apply(env events.Envelope) error
	// Snapshot returns the model's whole state as canonical JSON: equal
	// models give equal bytes (used to prove a rebuild matches).
	Snapshot() ([]byte, error)
}

// Source is the part of the event store the runner reads.
type Source interface {
	Follow(ctx context.Context, filter string, from uint64, fn func(events.Envelope) error) error
	Read(ctx context.Context, filter string, from uint64, fn func(events.Envelope) error) error
	LastSeq(ctx context.Context) (uint64, error)
}
