package main

import (
	"context"
	"fmt"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/sealed"
	"github.com/tagstream/tagstream/internal/datakeys"
	"github.com/tagstream/tagstream/services"
)

// openSealing opens the per-job data keys under the master key (the one
// internal/secrets loads) and makes a.store the sealing decorator around
// a.rawLog: every reader and writer of the log but the hash-chained
// export goes through it.
func (a *app) openSealing(ctx context.Context, master []byte) error {
	keys, err := datakeys.Open(ctx, a.conn.JS, a.conn.Replicas(), master)
	if err != nil {
		return err
	}
	a.keys, a.store = keys, sealed.New(a.rawLog, keys)
	return nil
}

// scrubReadDB runs after an erasure: once the read models have applied
// the JobErased (and so scrubbed the job's rows), the SQLite WAL, which
// still holds the earlier page images, is checkpointed and truncated.
func (a *app) scrubReadDB(ctx context.Context, _ string) error {
	if err := a.fresh.Sync(ctx); err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	return a.readDB.Checkpoint(ctx)
}

// retentionEraser lets the retention sweeper erase through the one erase
// command, as the system: the same rules (legal hold = Conflict, skipped
// until the next sweep) and the same clean-up as POST .../erase.
type retentionEraser struct{ h services.GovernanceHandler }

func (r retentionEraser) Erase(ctx context.Context, actor events.Actor, jobID, reason string) error {
	return r.h.Erase(ctx, services.Caller{Actor: actor}, jobID, reason)
}
