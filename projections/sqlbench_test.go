package projections_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/projections"
)

// BenchmarkSQLReadModels measures the SQL read side over a log of
// SQL_BENCH_EVENTS events (default 1,000,000; jobs of 100 documents as in
// BenchmarkRebuild): a raw ordered consumer over the log, the SQL models
// built from sequence 1 (what a rebuild does), then a restart: a new
// runner opening the same database and catching up from its checkpoints,
// with the Go heap in use after it. SQL_BENCH_DB=postgres://... uses
// PostgreSQL instead of a SQLite file.
func BenchmarkSQLReadModels(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SQL_BENCH_EVENTS")); err == nil {
		n = v
	}
	conn := natstest.Start(b, "")
	store, err := jsstore.Open(context.Background(), conn.JS, jsstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	total := fillLog(b, conn.JS, n)
	b.Logf("filled %d events in %s", total, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	dir := b.TempDir()
	open := func() *sqldb.DB {
		db, err := sqldb.Open(ctx, os.Getenv("SQL_BENCH_DB"), dir)
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	models := func() []projections.SQLModel {
		return []projections.SQLModel{projections.JobStatusModel{}, projections.ResultsModel{}}
	}

	b.Run("raw-ordered-consumer", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			start := time.Now()
			st, _ := conn.JS.Stream(ctx, events.Stream)
			cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
			if err != nil {
				b.Fatal(err)
			}
			it, _ := cons.Messages(jetstream.PullMaxMessages(1000))
			for seen := 0; seen < total; seen++ {
				if _, err := it.Next(); err != nil {
					b.Fatal(err)
				}
			}
			it.Stop()
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
		}
	})
	b.Run("sql-build-from-1", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			db := open()
			r := projections.NewSQLRunner(db, store, models()...)
			if err := r.Open(ctx); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			var err error
			if r.Applied() == 0 {
				err = r.CatchUp(ctx)
			} else {
				err = r.Rebuild(ctx, projections.JobStatusName, nil)
				if err == nil {
					err = r.Rebuild(ctx, projections.DocumentResultsName, nil)
				}
			}
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
			db.Close()
		}
	})
	if fi, err := os.Stat(filepath.Join(dir, "read.db")); err == nil {
		b.Logf("read.db: %d MiB", fi.Size()>>20)
	}
	b.Run("restart-from-checkpoint", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			db := open()
			r := projections.NewSQLRunner(db, store, models()...)
			if err := r.Open(ctx); err != nil {
				b.Fatal(err)
			}
			if err := r.CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			if r.Applied() < uint64(total) {
				b.Fatalf("applied %d of %d", r.Applied(), total)
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(took.Milliseconds()), "ms-to-caught-up")
			b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB")
			db.Close()
		}
	})
}
