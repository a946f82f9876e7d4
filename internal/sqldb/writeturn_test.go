package sqldb_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tagstream/tagstream/internal/sqldb"
)

// A writer committing back to back (a rebuild's batches) does not keep
// another one of the process (the live runner, whose commit a command
// waits for) out: the second gets in while the first still has most of
// its transactions ahead. Through SQLite's busy polling alone it got in
// only when the first had stopped.
func TestSQLiteWritersTakeTurns(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(t.TempDir(), "read.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE t (w TEXT, n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	builder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer builder.Discard()
	const batches = 400
	var done atomic.Int64
	started := make(chan struct{})
	finished := make(chan error, 1)
	go func() {
		for i := range batches {
			tx, err := builder.Begin(ctx)
			if err != nil {
				finished <- err
				return
			}
			for j := range 300 {
				if _, err := tx.Exec(ctx, `INSERT INTO t (w, n) VALUES ('builder', ?)`, i*300+j); err != nil {
					tx.Rollback()
					finished <- err
					return
				}
			}
			if err := tx.Commit(); err != nil {
				finished <- err
				return
			}
			if done.Add(1) == 1 {
				close(started)
			}
		}
		finished <- nil
	}()
	<-started
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO t (w, n) VALUES ('runner', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	behind := done.Load()
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	if behind >= batches/2 {
		t.Fatalf("the runner's commit got in after %d of the builder's %d transactions", behind, batches)
	}
}
