package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tagstream/tagstream/internal/metrics"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/projections"
)

// sqlModels lists the read models stored in the read database, in the
// order a batch applies them. A model added here is built from the log
// on the first start that knows it.
func sqlModels() []projections.SQLModel {
	return []projections.SQLModel{projections.JobStatusModel{}, projections.ResultsModel{}, projections.NewDocumentSearch()}
}

// openReadSide opens TAGSTREAM_READ_DB, resumes every SQL read model from
// its checkpoint and catches it up with the log.
func (a *app) openReadSide(ctx context.Context) error {
	var err error
	if a.readDB, err = sqldb.Open(ctx, a.cfg.ReadDB, a.cfg.DataDir); err != nil {
		return err
	}
	a.read = projections.NewSQLRunner(a.readDB, a.store, sqlModels()...)
	if a.readDB.Dialect == sqldb.Postgres {
		// Other serves read this database and follow a switch within a
		// poll; on SQLite this process is the only one serving its file
		// (the projections command beside it keeps its own grace).
		a.read.RetiredGrace = projections.DefaultRetiredGrace
		if a.cfg.retiredGrace > 0 {
			a.read.RetiredGrace = a.cfg.retiredGrace
		}
	}
	a.read.CountSkips(a.skips)
	if err := a.read.Open(ctx); err != nil {
		return err
	}
	if err := a.shareReadSide(ctx); err != nil {
		return err
	}
	a.jobs, a.results = projections.NewJobQueries(a.read), projections.NewResultQueries(a.read)
	// Search, history statistics and analytics: the document-search model.
	a.search = projections.NewSearchReader(a.read)
	a.fresh = a.read
	start := time.Now()
	if a.readyAt, err = a.store.LastSeq(ctx); err != nil {
		return err
	}
	from := a.read.Applied()
	a.readFrom = from
	if err := a.read.CatchUp(ctx); err != nil {
		return fmt.Errorf("catch up read models: %w", err)
	}
	a.log.Info("read models caught up from their checkpoints", "from", from, "to", a.read.Applied(),
		"ms", time.Since(start).Milliseconds(), "db", string(a.readDB.Dialect))
	// Sharing the database, only the process applying the log rebuilds.
	if names := a.read.NeedsRebuild(); len(names) > 0 && a.read.Leading() {
		go a.rebuildNewVersions(names)
	}
	return nil
}

// dropRetired drops the tables of the generations earlier switches
// retired (run: beside serving, as their size is the history's; by the
// process applying the log, when processes share the database).
func (a *app) dropRetired(ctx context.Context) {
	// At start, and then now and again: a generation retired less than
	// RetiredGrace ago is left for a later pass.
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		a.dropRetiredOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *app) dropRetiredOnce(ctx context.Context) {
	if !a.read.Leading() {
		return
	}
	start := time.Now()
	if err := a.read.DropRetired(ctx); err != nil {
		if ctx.Err() == nil {
			a.log.Error("dropping retired read-model generations failed; the next start tries again", "err", err)
		}
		return
	}
	a.log.Debug("retired read-model generations dropped", "ms", time.Since(start).Milliseconds())
}

// rebuildNewVersions builds the models whose stored generation another
// version wrote, beside it, while the process serves.
func (a *app) rebuildNewVersions(names []string) {
	// One at a time: at start and on a takeover both may ask.
	if !a.versionRebuild.TryLock() {
		return
	}
	defer a.versionRebuild.Unlock()
	for _, name := range names {
		a.log.Info("read model has a new version: rebuilding beside the serving one", "projection", name)
		err := a.read.Rebuild(context.Background(), name, nil)
		if err != nil {
			a.log.Error("rebuild failed", "projection", name, "err", err)
			continue
		}
		a.log.Info("read model rebuilt and switched", "projection", name)
	}
}

// modelStatus reports every read model against last, the log's last
// sequence (0: unknown).
func (a *app) modelStatus(last uint64) []projections.ModelStatus {
	return a.read.StatusAt(last)
}

// projectionStates is modelStatus for the tagstream_projection_* metrics.
func (a *app) projectionStates(_ context.Context, last uint64) []metrics.Projection {
	var out []metrics.Projection
	for _, st := range a.modelStatus(last) {
		out = append(out, metrics.Projection{Name: st.Name, State: st.State, Seq: st.Seq,
			LagEvents: st.LagEvents, LagSeconds: st.LagSeconds})
	}
	return out
}

// readyProjections is modelStatus for /api/ready: the log's end is asked
// briefly; without NATS the lag is left out (nats shows down anyway).
func (a *app) readyProjections(ctx context.Context) []projections.ModelStatus {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	last, err := a.store.LastSeq(ctx)
	if err != nil {
		last = 0
	}
	return a.modelStatus(last)
}
