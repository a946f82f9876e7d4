package main

import (
	"context"

	"github.com/tagstream/tagstream/events/sealed"
	"github.com/tagstream/tagstream/internal/datakeys"
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
