package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/projections"
)

// openReadDB opens TAGSTREAM_READ_DB and the SQL runner over the models
// stored there (document-search: GET /api/documents, /api/history/stats
// and the analytics summary), resumes them from their checkpoints and
// catches them up with the log.
func (a *app) openReadDB(ctx context.Context) error {
	db, err := sqldb.Open(ctx, a.cfg.ReadDB, a.cfg.DataDir)
	if err != nil {
		return err
	}
	a.readDB = db
	a.sqlRunner = projections.NewSQLRunner(db, a.store, projections.NewDocumentSearch())
	a.sqlRunner.CountSkips(a.skips)
	if err := a.sqlRunner.Open(ctx); err != nil {
		return err
	}
	for _, name := range a.sqlRunner.NeedsRebuild() {
		a.log.Info("rebuilding a read model beside the serving one", "model", name)
		if err := a.sqlRunner.Rebuild(ctx, name, nil); err != nil {
			return fmt.Errorf("rebuild %s: %w", name, err)
		}
	}
	start := time.Now()
	if err := a.sqlRunner.CatchUp(ctx); err != nil {
		return fmt.Errorf("read db: catch up: %w", err)
	}
	a.log.Info("SQL read models caught up", "seq", a.sqlRunner.Applied(), "ms", time.Since(start).Milliseconds())
	a.search = &freshSearch{SearchReader: &projections.SearchReader{DB: db, Tables: func() projections.Tables {
		return a.sqlRunner.Tables(projections.DocumentSearchName)
	}}, mem: a.runner, sql: a.sqlRunner}
	return nil
}

// freshSearch answers from the SQL models once they have applied what
// the in-memory models have: a user who saw a job complete in its status
// finds its documents and counts in search, stats and analytics.
type freshSearch struct {
	*projections.SearchReader
	mem *projections.Runner
	sql *projections.SQLRunner
}

// maxReadWait bounds that wait: past it the answer is a moment stale
// rather than late.
const maxReadWait = 2 * time.Second

func (f *freshSearch) wait(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, maxReadWait)
	defer cancel()
	_ = f.sql.WaitFor(ctx, f.mem.Applied())
}

func (f *freshSearch) Search(ctx context.Context, q projections.DocQuery) ([]projections.DocHit, int64, error) {
	f.wait(ctx)
	return f.SearchReader.Search(ctx, q)
}

func (f *freshSearch) Stats(ctx context.Context, owner string, n int) (projections.HistoryStats, error) {
	f.wait(ctx)
	return f.SearchReader.Stats(ctx, owner, n)
}

func (f *freshSearch) Summary(ctx context.Context, owner string, n int) (projections.Summary, error) {
	f.wait(ctx)
	return f.SearchReader.Summary(ctx, owner, n)
}

// bothFresh waits for the in-memory runner and the SQL runner: a command
// answers once every read model the caller may read next has its event.
type bothFresh struct {
	mem *projections.Runner
	sql *projections.SQLRunner
}

func (f bothFresh) WaitFor(ctx context.Context, seq uint64) error {
	if err := f.mem.WaitFor(ctx, seq); err != nil {
		return err
	}
	return f.sql.WaitFor(ctx, seq)
}

func (f bothFresh) Sync(ctx context.Context) error {
	if err := f.mem.Sync(ctx); err != nil {
		return err
	}
	return f.sql.Sync(ctx)
}
