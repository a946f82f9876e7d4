package projections

import (
	"context"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// SQLModel is a read model stored in the read database. The runner that
// drives it (one per model: its own checkpoint, its own failures) calls
// Apply for every event inside a transaction that also moves the model's
// checkpoint, committed in batches, so an event is applied exactly once
// and a restart resumes where the last commit stopped.
//
// Tables are named through t, never literally: a rebuild creates the next
// generation of a model's tables beside the serving one and switches over
// in one transaction, so the same code must write either generation.
type SQLModel interface {
	// Name identifies the model ("job-status", "document-results",
	// "analytics", "document-search"); it keys the checkpoint.
	Name() string
	// Version changes when the schema or the fold changes; a new version
	// is rebuilt beside the old one on start.
	Version() int
	// Create makes the model's tables for generation t, empty.
	Create(ctx context.Context, tx *sqldb.Tx, t Tables) error
	// Apply folds one event (already loaded: env.Event is set).
	Apply(ctx context.Context, tx *sqldb.Tx, t Tables, env events.Envelope) error
}

// Tables names a model's tables for one generation: t.Name("documents")
// gives e.g. "document_search_g3_documents".
type Tables struct {
	Prefix string // e.g. "document_search_g3_"

	// indexLater: the generation is being built and no reader sees it
	// yet, so a model may leave an index it can fill from its rows to
	// one pass after the load (see laterIndexer); Apply then skips it.
	indexLater bool
}

// Name is the full name of the model's table called base.
func (t Tables) Name(base string) string { return t.Prefix + base }
