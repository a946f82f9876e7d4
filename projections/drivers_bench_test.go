package projections_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/driver" // database/sql driver "sqlite3"
	"github.com/ncruces/go-sqlite3/ext/fts5"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/projections"
)

// Since v0.37 ncruces/go-sqlite3 has no embed build: FTS5 is a separate
// extension, registered on every connection the driver opens.
func init() { sqlite3.AutoExtension(fts5.Register) }

// sqliteDrivers are the two cgo-free SQLite drivers issue 12 asks us to
// compare, by their database/sql names: modernc.org/sqlite (what
// internal/sqldb uses) and github.com/ncruces/go-sqlite3.
var sqliteDrivers = []struct{ name, driver string }{{"modernc", "sqlite"}, {"ncruces", "sqlite3"}}

// driverSearches are the searches timed on each driver (see searchKinds).
var driverSearches = []string{"owner-common-word", "owner-rare-word", "owner-hindi-word", "owner-prefix", "all-tag-and-word"}

// BenchmarkSQLiteDrivers projects the same synthetic log (DRIVERS_BENCH_DOCS
// documents, default 20000, in jobs of 100; every third word Zipf-common,
// a tenth of them Hindi) into the job-status, document-results and
// document-search models through the SQL runner, times searches on the
// result, and times a cold start (a new process: open, load the
// checkpoints, first search), on both drivers with the same DSN and so the
// same pragmas (WAL, busy_timeout, synchronous NORMAL, IMMEDIATE
// transactions), in DRIVERS_BENCH_ROUNDS rounds (default 3). The medians
// and their ratios ncruces/modernc are logged:
//
//	go test -run '^$' -bench SQLiteDrivers -benchtime 1x -v ./projections
func BenchmarkSQLiteDrivers(b *testing.B) {
	if spec := os.Getenv("DRIVERS_COLD_CHILD"); spec != "" {
		coldChild(b, spec)
		return
	}
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("DRIVERS_BENCH_DOCS")); err == nil && v >= 100 {
		n = v
	}
	log := driversLog(b, n)
	b.Logf("log: %d documents, %d events", n, len(log))
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("DRIVERS_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	ctx := context.Background()
	got := map[string][]float64{}
	// Rounds alternate the drivers (and which goes first), so a load that
	// drifts on a shared machine weighs on both alike.
	for round := 0; round < rounds; round++ {
		for k := range sqliteDrivers {
			d := sqliteDrivers[(k+round)%len(sqliteDrivers)]
			path := filepath.Join(b.TempDir(), "read.db")
			var db *sqldb.DB
			var r *projections.SQLRunner
			b.Run(d.name+"/project", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if db != nil {
						db.Close()
					}
					for _, f := range []string{path, path + "-wal", path + "-shm"} {
						os.Remove(f)
					}
					var err error
					if db, err = sqldb.OpenSQLiteWith(ctx, d.driver, path); err != nil {
						b.Fatal(err)
					}
					checkPragmas(b, db)
					r = projections.NewSQLRunner(db, log, driverModels()...)
					start := time.Now()
					if err := r.Open(ctx); err != nil {
						b.Fatal(err)
					}
					if err := r.CatchUp(ctx); err != nil {
						b.Fatal(err)
					}
					rate := float64(len(log)) / time.Since(start).Seconds()
					if r.Applied() != uint64(len(log)) {
						b.Fatalf("applied %d of %d", r.Applied(), len(log))
					}
					b.ReportMetric(rate, "events/s")
					got[d.name+"/project events/s"] = append(got[d.name+"/project events/s"], rate)
				}
			})
			if fi, err := os.Stat(path); err == nil {
				var version string
				db.QueryRow(ctx, "SELECT sqlite_version()").Scan(&version)
				b.Logf("%s: SQLite %s, read.db %d KiB", d.name, version, fi.Size()>>10)
			}
			reader := projections.NewSearchReader(r)
			for _, name := range driverSearches {
				kind := searchKind(b, name)
				b.Run(d.name+"/search/"+name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						rng := rand.New(rand.NewPCG(5, 6)) // the same queries on both drivers
						took := make([]time.Duration, 200)
						for j := range took {
							q := kind(rng)
							q.Limit = 50
							t0 := time.Now()
							if _, _, err := reader.Search(ctx, q); err != nil {
								b.Fatal(err)
							}
							took[j] = time.Since(t0)
						}
						p50 := percentileMS(took, 0.5)
						b.ReportMetric(p50, "p50-ms")
						b.ReportMetric(percentileMS(took, 0.99), "p99-ms")
						got[d.name+"/"+name+" p50-ms"] = append(got[d.name+"/"+name+" p50-ms"], p50)
					}
				})
			}
			db.Close()
			b.Run(d.name+"/cold-open-first-search", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					took := make([]time.Duration, 5)
					for j := range took {
						took[j] = coldStart(b, d.driver, path)
					}
					p50 := percentileMS(took, 0.5)
					b.ReportMetric(p50, "p50-ms")
					got[d.name+"/cold-open-first-search p50-ms"] = append(got[d.name+"/cold-open-first-search p50-ms"], p50)
				}
			})
		}
	}
	var keys []string
	for k := range got {
		if strings.HasPrefix(k, "modernc/") {
			keys = append(keys, strings.TrimPrefix(k, "modernc/"))
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		m, nc := median(got["modernc/"+k]), median(got["ncruces/"+k])
		b.Logf("%-32s median of %d rounds: modernc %8.2f  ncruces %8.2f  ncruces/modernc %.2f", k, len(got["modernc/"+k]), m, nc, nc/m)
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func driverModels() []projections.SQLModel {
	return []projections.SQLModel{projections.JobStatusModel{}, projections.ResultsModel{}, projections.NewDocumentSearch()}
}

// checkPragmas fails unless the driver applied the DSN's pragmas: a
// driver that ignored them would be measured on different terms.
func checkPragmas(b *testing.B, db *sqldb.DB) {
	var mode string
	var timeout, sync int
	ctx := context.Background()
	if err := db.QueryRow(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		b.Fatal(err)
	}
	if mode != "wal" || timeout != 10000 || sync != 1 {
		b.Fatalf("pragmas: journal_mode %s, busy_timeout %d, synchronous %d; want wal, 10000, 1 (NORMAL)", mode, timeout, sync)
	}
}

func searchKind(b *testing.B, name string) func(*rand.Rand) projections.DocQuery {
	for _, k := range searchKinds {
		if k.name == name {
			return k.q
		}
	}
	b.Fatalf("no search kind %q", name)
	return nil
}

func percentileMS(took []time.Duration, p float64) float64 {
	s := append([]time.Duration(nil), took...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
}

// coldStart runs this benchmark binary again as a child that opens path
// with the driver and answers one search: a new process, so whatever a
// driver does once per process (ncruces initialises its translated SQLite
// module) is counted, as it is when serve starts.
func coldStart(b *testing.B, driver, path string) time.Duration {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkSQLiteDrivers$", "-test.benchtime=1x")
	cmd.Env = append(os.Environ(), "DRIVERS_COLD_CHILD="+driver+"|"+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("cold start child: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "cold-start-ns "); ok {
			ns, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return time.Duration(ns)
		}
	}
	b.Fatalf("cold start child printed no time:\n%s", out)
	return 0
}

// coldChild is the child's side of coldStart.
func coldChild(b *testing.B, spec string) {
	driver, path, _ := strings.Cut(spec, "|")
	ctx := context.Background()
	start := time.Now()
	db, err := sqldb.OpenSQLiteWith(ctx, driver, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := projections.NewSQLRunner(db, driverLog(nil), driverModels()...)
	if err := r.Open(ctx); err != nil {
		b.Fatal(err)
	}
	hits, _, err := projections.NewSearchReader(r).Search(ctx, projections.DocQuery{Owner: "owner-1", Text: benchWord(9), Limit: 50})
	if err != nil {
		b.Fatal(err)
	}
	if len(hits) == 0 {
		b.Fatal("cold start: the first search found nothing")
	}
	fmt.Printf("cold-start-ns %d\n", time.Since(start).Nanoseconds())
}

// driverLog is an in-memory Source: the benchmark times the drivers, not
// JetStream.
type driverLog []events.Envelope

func (l driverLog) Read(_ context.Context, _ string, from uint64, fn func(events.Envelope) error) error {
	for _, env := range l {
		if env.Seq >= from {
			if err := fn(env); err != nil {
				return err
			}
		}
	}
	return nil
}
func (l driverLog) Follow(ctx context.Context, f string, from uint64, fn func(events.Envelope) error) error {
	return l.Read(ctx, f, from, fn)
}
func (l driverLog) LastSeq(context.Context) (uint64, error) { return uint64(len(l)), nil }

// driversLog builds n documents' worth of jobs as fillSearch does (its
// vocabulary and owners, so searchKinds find them) but as a log, in jobs
// of 100 documents as in fillLog.
func driversLog(b *testing.B, n int) driverLog {
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, benchVocabulary-1)
	words := func(k int) string {
		w := make([]string, k)
		for i := range w {
			w[i] = benchWord(int(zipf.Uint64()))
		}
		return strings.Join(w, " ")
	}
	const perJob = 100
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var log driverLog
	add := func(job string, actor events.Actor, ev events.Event, at time.Time) {
		env, err := events.New(job, actor, ev)
		if err != nil {
			b.Fatal(err)
		}
		env.Seq, env.Time = uint64(len(log)+1), at
		log = append(log, env)
	}
	for j := 0; j*perJob < n; j++ {
		job := "bench-" + strconv.Itoa(j)
		owner := events.User("owner-"+strconv.Itoa(j%benchOwners), "")
		at := t0.Add(time.Duration(j) * time.Minute)
		docs := make([]events.Document, perJob)
		for i := range docs {
			docs[i] = events.Document{Row: i, Title: words(4), FilePath: fmt.Sprintf("https://example.org/%d/%d.pdf", j, i),
				SourceType: "url", Description: words(8), Extra: map[string]any{"department": "dept" + strconv.Itoa(rng.IntN(50))}}
		}
		add(job, owner, events.DocumentsSubmitted{InputID: "in-" + job, Documents: docs}, at)
		add(job, owner, events.JobStarted{InputID: "in-" + job, Chunks: 1, Total: perJob, Config: events.JobConfig{Model: "m"}}, at)
		w := events.Worker("w")
		for i := range docs {
			add(job, w, events.DocumentStarted{Row: i, Attempt: 1}, at)
			md := events.TagMetadata{Model: "m", TotalTokens: 900 + i, Calls: 1, DurationMS: int64(800 + i)}
			if i%17 == 0 {
				add(job, w, events.DocumentFailed{Row: i, Attempt: 1, Error: "HTTP 404", Code: "fetch_not_found", Metadata: md}, at)
			} else {
				add(job, w, events.DocumentTagged{Row: i, Attempt: 1, Metadata: md,
					Tags: []string{"tag" + strconv.Itoa(rng.IntN(200)), "tag" + strconv.Itoa(rng.IntN(2000)), benchWord(rng.IntN(1000))}}, at)
			}
		}
		add(job, events.System, events.JobCompleted{}, at)
	}
	return log
}
