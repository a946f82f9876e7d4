package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/projections"
)

// benchDocs is how many documents the search benchmark indexes:
// TAGSTREAM_BENCH_DOCS (1000000 for the BENCHMARKS.md figure), else 20000.
func benchDocs(b *testing.B) int {
	if v := os.Getenv("TAGSTREAM_BENCH_DOCS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("TAGSTREAM_BENCH_DOCS=%q: want a number of documents >= 1000", v)
		}
		return n
	}
	return 20000
}

const (
	benchJobDocs = 1000 // documents per job
	benchOwners  = 100
)

// benchWords is the vocabulary of titles and descriptions: word i occurs
// about 1/(i+1) as often as word 0 (Zipf), so queries range from words in
// a third of the documents to words in a handful; a tenth of the words
// are Hindi.
func benchWord(i int) string {
	if i%10 == 9 {
		return "शब्द" + strconv.Itoa(i) // Devanagari, with a vowel sign
	}
	return "w" + strconv.Itoa(i)
}

const benchVocabulary = 20000

// fillSearch applies jobs of benchJobDocs documents, every one tagged (one
// in 17 failed), through the model as the runner applies it (applyJob), one
// transaction per job.
func fillSearch(b *testing.B, db *sqldb.DB, n int) {
	ctx := context.Background()
	m := projections.NewDocumentSearch()
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, benchVocabulary-1)
	words := func(k int) string {
		s := ""
		for i := 0; i < k; i++ {
			if i > 0 {
				s += " "
			}
			s += benchWord(int(zipf.Uint64()))
		}
		return s
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tx, err := db.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Create(ctx, tx, projections.SearchTables); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	seq := uint64(0)
	start := time.Now()
	for j := 0; j*benchJobDocs < n; j++ {
		job := "bench-" + strconv.Itoa(j)
		owner := events.User("owner-"+strconv.Itoa(j%benchOwners), "")
		at := t0.Add(time.Duration(j) * time.Hour)
		docs := make([]events.Document, benchJobDocs)
		for i := range docs {
			docs[i] = events.Document{Row: i, Title: words(4), FilePath: fmt.Sprintf("https://example.org/%d/%d.pdf", j, i),
				Description: words(8), Extra: map[string]any{"department": "dept" + strconv.Itoa(rng.IntN(50))}}
		}
		envs := []events.Envelope{}
		add := func(actor events.Actor, ev events.Event) {
			env, err := events.New(job, actor, ev)
			if err != nil {
				b.Fatal(err)
			}
			seq++
			env.Seq, env.Time = seq, at
			envs = append(envs, env)
		}
		add(owner, events.DocumentsSubmitted{InputID: "in-" + job, Documents: docs})
		add(owner, events.JobStarted{InputID: "in-" + job, Total: benchJobDocs, Config: events.JobConfig{Model: "m"}})
		w := events.Worker("w")
		for i := range docs {
			add(w, events.DocumentStarted{Row: i, Attempt: 1})
			md := events.TagMetadata{Model: "m", TotalTokens: 900 + i, Calls: 1, DurationMS: int64(800 + i)}
			if i%17 == 0 {
				add(w, events.DocumentFailed{Row: i, Attempt: 1, Error: "HTTP 404", Code: "fetch_not_found", Metadata: md})
			} else {
				add(w, events.DocumentTagged{Row: i, Attempt: 1, Metadata: md,
					Tags: []string{"tag" + strconv.Itoa(rng.IntN(200)), "tag" + strconv.Itoa(rng.IntN(2000)), benchWord(rng.IntN(1000))}})
			}
		}
		add(events.System, events.JobCompleted{})
		tx, err := db.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := applyJob(ctx, tx, m, envs); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("indexed %d documents (%d events) in %v", n, seq, time.Since(start).Round(time.Second))
}

// applyJob folds one job's events as the runner does: through the
// model's ApplyBatch when it has one (the same tables as Apply, in a few
// multi-row statements instead of a few per event), else event by event.
func applyJob(ctx context.Context, tx *sqldb.Tx, m projections.SQLModel, envs []events.Envelope) error {
	if ba, ok := m.(projections.BatchApplier); ok {
		return ba.ApplyBatch(ctx, tx, projections.SearchTables, envs)
	}
	for _, env := range envs {
		if err := m.Apply(ctx, tx, projections.SearchTables, env); err != nil {
			return err
		}
	}
	return nil
}

// searchBenchDB opens the benchmark's SQLite file, filling it the first
// time: it is kept (in TAGSTREAM_BENCH_DIR, else the temp dir) across
// runs, since a million documents take minutes to apply.
func searchBenchDB(b *testing.B, n int) *sqldb.DB {
	dir := os.Getenv("TAGSTREAM_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tagstream-search-bench")
	}
	path := filepath.Join(dir, fmt.Sprintf("search-s%d-%d.db", benchLayout, n))
	_, statErr := os.Stat(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	if statErr == nil {
		db, err := sqldb.OpenSQLite(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	tmp := path + ".filling"
	os.Remove(tmp)
	db, err := sqldb.OpenSQLite(context.Background(), tmp)
	if err != nil {
		b.Fatal(err)
	}
	fillSearch(b, db, n)
	db.Close()
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	db, err = sqldb.OpenSQLite(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// searchBenchPostgres opens the benchmark's PostgreSQL schema, filling it
// the first time: like the SQLite file it is kept across runs, named
// after the layout, the model's version and the size, and reused only if
// its fill finished (the search_bench_filled table is made last).
func searchBenchPostgres(b *testing.B, n int) *sqldb.DB {
	ctx := context.Background()
	base := testenv.RequirePostgres(b)
	schema := fmt.Sprintf("search_bench_s%d_v%d_%d", benchLayout, projections.NewDocumentSearch().Version(), n)
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sqldb.Open(ctx, u.String(), "")
	if err != nil {
		b.Fatal(err)
	}
	var filled bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = ? AND tablename = 'search_bench_filled')`,
		schema).Scan(&filled); err != nil {
		b.Fatal(err)
	}
	if filled {
		b.Logf("postgres: reusing schema %s", schema)
		return db
	}
	for _, s := range []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "CREATE SCHEMA " + schema} {
		if _, err := db.Exec(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	fillSearch(b, db, n)
	for _, s := range []string{"ANALYZE", "CREATE TABLE search_bench_filled (n BIGINT)"} {
		if _, err := db.Exec(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("postgres: filled schema %s (kept: drop it by hand)", schema)
	return db
}

// searchKinds are the queries measured: what the console and the CLI ask.
var searchKinds = []struct {
	name string
	q    func(r *rand.Rand) projections.DocQuery
}{
	{"owner-latest", func(r *rand.Rand) projections.DocQuery { return projections.DocQuery{Owner: benchOwner(r)} }},
	{"owner-common-word", func(r *rand.Rand) projections.DocQuery {
		return projections.DocQuery{Owner: benchOwner(r), Text: benchWord(r.IntN(5))}
	}},
	{"owner-rare-word", func(r *rand.Rand) projections.DocQuery {
		return projections.DocQuery{Owner: benchOwner(r), Text: benchWord(1000 + r.IntN(19000))}
	}},
	{"owner-two-words", func(r *rand.Rand) projections.DocQuery {
		return projections.DocQuery{Owner: benchOwner(r), Text: benchWord(r.IntN(50)) + " " + benchWord(50+r.IntN(500))}
	}},
	{"owner-hindi-word", func(r *rand.Rand) projections.DocQuery {
		return projections.DocQuery{Owner: benchOwner(r), Text: benchWord(10*r.IntN(100) + 9)}
	}},
	{"owner-prefix", func(r *rand.Rand) projections.DocQuery {
		return projections.DocQuery{Owner: benchOwner(r), Text: "w" + strconv.Itoa(100+r.IntN(900)) + "*"}
	}},
	{"owner-tag", func(r *rand.Rand) projections.DocQuery {
		return projections.DocQuery{Owner: benchOwner(r), Tag: "tag" + strconv.Itoa(r.IntN(2000))}
	}},
	{"all-common-word", func(r *rand.Rand) projections.DocQuery { return projections.DocQuery{Text: benchWord(r.IntN(5))} }},
	// A global auditor's all=true: its own jobs or any outside
	// organisations, two parts (every document here is outside them).
	{"readable-latest", func(r *rand.Rand) projections.DocQuery { return projections.DocQuery{Readable: auditorAll(r)} }},
	{"readable-common-word", func(r *rand.Rand) projections.DocQuery {
		return projections.DocQuery{Readable: auditorAll(r), Text: benchWord(r.IntN(5))}
	}},
	{"readable-rare-word", func(r *rand.Rand) projections.DocQuery {
		return projections.DocQuery{Readable: auditorAll(r), Text: benchWord(1000 + r.IntN(19000))}
	}},
	{"all-tag-and-word", func(r *rand.Rand) projections.DocQuery {
		return projections.DocQuery{Tag: "tag" + strconv.Itoa(r.IntN(200)), Text: benchWord(r.IntN(20))}
	}},
}

func benchOwner(r *rand.Rand) string { return "owner-" + strconv.Itoa(r.IntN(benchOwners)) }

func auditorAll(r *rand.Rand) *projections.Readable {
	return &projections.Readable{OwnerID: benchOwner(r), NoOrg: true}
}

// BenchmarkDocumentSearch measures one page (50 documents) of each kind
// of search and reports its p50 and p99 in milliseconds:
//
//	TAGSTREAM_BENCH_DOCS=1000000 go test -run '^$' -bench DocumentSearch -benchtime 200x ./projections
//
// With TAGSTREAM_BENCH_POSTGRES=1 it measures PostgreSQL too (filled
// once into a kept schema, see searchBenchPostgres); =only, PostgreSQL
// alone. On PostgreSQL the owner's searches by words or tags are measured
// again as one statement (postgres/one-statement/...), the plan the
// window replaced, for the ratio in the same run.
func BenchmarkDocumentSearch(b *testing.B) {
	n := benchDocs(b)
	stores := map[string]func() *sqldb.DB{}
	if os.Getenv("TAGSTREAM_BENCH_POSTGRES") != "only" {
		stores["sqlite"] = func() *sqldb.DB { return searchBenchDB(b, n) }
	}
	if os.Getenv("TAGSTREAM_BENCH_POSTGRES") != "" {
		stores["postgres"] = func() *sqldb.DB { return searchBenchPostgres(b, n) }
	}
	for _, store := range []string{"sqlite", "postgres"} {
		open, ok := stores[store]
		if !ok {
			continue
		}
		db := open()
		r := &projections.SearchReader{DB: db}
		for _, kind := range searchKinds {
			b.Run(fmt.Sprintf("%s/%s", store, kind.name), func(b *testing.B) { measureSearch(b, r, kind.q) })
		}
		if store == "postgres" {
			// The reference, in the same run: each scoped search by words
			// or tags as the one statement the window replaced.
			ref := projections.OneStatementReader(db)
			for _, kind := range searchKinds {
				if !strings.HasPrefix(kind.name, "owner-") || kind.name == "owner-latest" {
					continue
				}
				b.Run("postgres/one-statement/"+kind.name, func(b *testing.B) { measureSearch(b, ref, kind.q) })
			}
		}
		db.Close()
	}
}

// measureSearch runs b.N searches of pages of 50 that q makes and reports
// their p50 and p99 in milliseconds.
func measureSearch(b *testing.B, r *projections.SearchReader, q func(*rand.Rand) projections.DocQuery) {
	rng := rand.New(rand.NewPCG(5, 6))
	took := make([]time.Duration, 0, b.N)
	for b.Loop() {
		dq := q(rng)
		dq.Limit = 50
		t0 := time.Now()
		if _, _, err := r.Search(context.Background(), dq); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	pct := func(p float64) float64 {
		return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// benchLayout names the kept benchmark file: change it with the tables.
const benchLayout = 4
