package projections_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/events/sealed"
	"github.com/tagstream/tagstream/internal/datakeys"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/projections"
)

// BenchmarkSQLReadModels measures the SQL read side over a log of
// SQL_BENCH_EVENTS events (default 1,000,000; jobs of 100 documents as in
// BenchmarkRebuild): a raw ordered consumer over the log, the SQL models
// built from sequence 1 by a runner's catch-up, then each model's Rebuild
// (the next generation built beside the serving one, then switched to),
// each next to a raw ordered consumer read just before it, with the
// ratio of the two; then a restart: a new runner opening the same
// database and catching up from its checkpoints, with the Go heap in use
// after it, and the time it then takes to drop the retired generations
// beside serving. SQL_BENCH_DB=postgres://... uses PostgreSQL instead of a
// SQLite file.
func BenchmarkSQLReadModels(b *testing.B) { benchSQLReadModels(b, false) }

// BenchmarkSQLReadModelsSealed is BenchmarkSQLReadModels over a log whose
// document data is sealed, as serve's is, read through the sealing store
// with real data keys; the raw consumer reads the same sealed log.
func BenchmarkSQLReadModelsSealed(b *testing.B) { benchSQLReadModels(b, true) }

// profileTo writes a CPU profile of what follows, until the returned
// func is called, to $SQL_BENCH_PROFILE/NAME.pprof when that is set, and
// a profile of where goroutines waited to NAME.block.pprof: profiles of
// one rebuild alone, without the fill before it.
func profileTo(b *testing.B, name string) func() {
	dir := os.Getenv("SQL_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	runtime.SetBlockProfileRate(int(time.Millisecond))
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		runtime.SetBlockProfileRate(0)
		bf, err := os.Create(filepath.Join(dir, name+".block.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		defer bf.Close()
		if err := pprof.Lookup("block").WriteTo(bf, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchSQLReadModels(b *testing.B, seal bool) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SQL_BENCH_EVENTS")); err == nil {
		n = v
	}
	ctx := context.Background()
	conn := natstest.Start(b, "")
	raw, err := jsstore.Open(ctx, conn.JS, jsstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var store projections.Source = raw
	var sealWith func(events.Envelope) (events.Envelope, error)
	if seal {
		keys, err := datakeys.Open(ctx, conn.JS, 1, bytes.Repeat([]byte{7}, 32))
		if err != nil {
			b.Fatal(err)
		}
		store = sealed.New(raw, keys)
		sealWith = func(env events.Envelope) (events.Envelope, error) {
			if !events.Sealable(env.Type) {
				return env, nil
			}
			c, err := keys.ForAppend(ctx, env.JobID)
			if err != nil {
				return env, err
			}
			return events.Seal(env, c)
		}
	}
	start := time.Now()
	total := fillLogWith(b, conn.JS, n, sealWith)
	b.Logf("filled %d events in %s (sealed: %v)", total, time.Since(start).Round(time.Millisecond), seal)
	dir := b.TempDir()
	open := func() *sqldb.DB {
		db, err := sqldb.Open(ctx, os.Getenv("SQL_BENCH_DB"), dir)
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	models := func() []projections.SQLModel {
		return []projections.SQLModel{projections.JobStatusModel{}, projections.ResultsModel{}, projections.NewDocumentSearch()}
	}
	rawRate := func() float64 { return rawOrderedRate(b, conn.JS, total) }

	b.Run("raw-ordered-consumer", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.ReportMetric(rawRate(), "events/s")
		}
	})
	db := open()
	r := projections.NewSQLRunner(db, store, models()...)
	if err := r.Open(ctx); err != nil {
		b.Fatal(err)
	}
	if r.Applied() == 0 {
		b.Run("sql-build-from-1", func(b *testing.B) {
			start := time.Now()
			if err := r.CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
	for _, m := range models() {
		b.Run("rebuild-"+m.Name(), func(b *testing.B) {
			// With -benchtime Nx each round pairs its own raw read with a
			// rebuild, and the medians are reported: the raw rate of one
			// read moves by half between runs on a shared machine.
			var refs, rates, ratios []float64
			for i := 0; i < b.N; i++ {
				ref := rawRate()
				stop := profileTo(b, m.Name())
				start := time.Now()
				// Each phase's wall time and the process's CPU time in it
				// (the NATS server's included): on a machine others share,
				// CPU time moves less with their load than wall time does.
				phases, last, at, cpuAt := []string{}, "", start, cpuTime()
				phase := func() string {
					return fmt.Sprintf("%s %s (cpu %s)", last, time.Since(at).Round(time.Millisecond), (cpuTime() - cpuAt).Round(time.Millisecond))
				}
				probeDone := probeWrites(b, db)
				if err := r.Rebuild(ctx, m.Name(), func(p projections.Progress) {
					if p.Phase != last {
						if last != "" {
							phases = append(phases, phase())
						}
						last, at, cpuAt = p.Phase, time.Now(), cpuTime()
					}
				}); err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				rate := float64(total) / took.Seconds()
				probeDone()
				stop()
				b.Logf("%s: %s, then %s", m.Name(), strings.Join(phases, ", "), phase())
				refs, rates, ratios = append(refs, ref), append(rates, rate), append(ratios, rate/ref)
			}
			b.Logf("%s: x-raw of each round %.3f", m.Name(), ratios)
			b.ReportMetric(median(refs), "raw-events/s")
			b.ReportMetric(median(rates), "events/s")
			b.ReportMetric(median(ratios), "x-raw")
		})
	}
	db.Close()
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
			// What the restart no longer waits for: the generations the
			// rebuilds above retired, dropped beside serving.
			start = time.Now()
			if err := r.DropRetired(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-drop-retired")
			db.Close()
		}
	})
}

// probeWrites, with SQL_BENCH_WRITE_PROBE set, commits a one-row write
// through db's pool every 10 ms until the returned func is called, which
// logs the waits: how long a live runner's commit (and the command
// waiting for it) can wait for a rebuild's hold on SQLite's write lock.
func probeWrites(b *testing.B, db *sqldb.DB) func() {
	if os.Getenv("SQL_BENCH_WRITE_PROBE") == "" {
		return func() {}
	}
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_probe (at BIGINT)`); err != nil {
		b.Fatal(err)
	}
	type wait struct{ took, at time.Duration }
	stop, done := make(chan struct{}), make(chan struct{})
	var waits []wait
	began := time.Now()
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			start := time.Now()
			if _, err := db.Exec(ctx, `INSERT INTO bench_probe (at) VALUES (?)`, start.UnixNano()); err != nil {
				b.Error(err)
				return
			}
			waits = append(waits, wait{time.Since(start), start.Sub(began)})
		}
	}()
	return func() {
		close(stop)
		<-done
		if len(waits) == 0 {
			return
		}
		slices.SortFunc(waits, func(a, b wait) int { return int(a.took - b.took) })
		over := 0
		for _, w := range waits {
			if w.took > 500*time.Millisecond {
				over++
			}
		}
		var longest []string
		for _, w := range waits[max(0, len(waits)-5):] {
			longest = append(longest, fmt.Sprintf("%s at %s", w.took.Round(time.Millisecond), w.at.Round(100*time.Millisecond)))
		}
		b.Logf("probe writes: %d, median %s, p99 %s, over 500 ms %d; longest: %s", len(waits),
			waits[len(waits)/2].took.Round(time.Microsecond), waits[len(waits)*99/100].took.Round(time.Millisecond),
			over, strings.Join(longest, ", "))
	}
}
