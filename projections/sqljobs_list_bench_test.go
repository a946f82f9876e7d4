package projections

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/sqldb"
)

// BenchmarkJobHistoryPage measures one history page (50 jobs) over
// SQL_BENCH_JOBS jobs (default 100,000: historyLog's four owners, three
// organisations, six statuses), written by a runner applying the log to
// the job-status model as serve does. Each case reports the page read
// as the history reads it now (ns/op) and, in the same run, the old way
// as old-ns and the ratio x-old: List of the whole scope unpaged (the
// owner's jobs, or every job for all=true), then the filter, order and
// page in Go. SQL_BENCH_DB=postgres://... uses PostgreSQL instead of a
// SQLite file.
func BenchmarkJobHistoryPage(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("SQL_BENCH_JOBS")); err == nil {
		n = v
	}
	ctx := context.Background()
	log := logOf(nil, historyLog(b, n, 0, time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), 1)...)
	db, err := sqldb.Open(ctx, benchSchema(b, os.Getenv("SQL_BENCH_DB")), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := NewSQLRunner(db, log, JobStatusModel{})
	start := time.Now()
	if err := r.Open(ctx); err != nil {
		b.Fatal(err)
	}
	if r.Applied() < uint64(len(log)) {
		if err := r.CatchUp(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%s: %d jobs (%d events) applied in %s", db.Dialect, n, len(log), time.Since(start).Round(time.Millisecond))
	if db.Dialect == sqldb.Postgres {
		// What autovacuum does a little after such a load: without
		// statistics the planner guesses the parts' sizes.
		if _, err := db.Exec(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	q := NewJobQueries(r)
	own := Readable{OwnerID: "u1"}
	admin := Readable{OwnerID: "u0", Orgs: []string{"org-a", "org-b", "org-c"}, NoOrg: true}
	owned, err := q.List(ctx, Filter{OwnerID: "u1"})
	if err != nil {
		b.Fatal(err)
	}
	deep := CursorOf(owned[len(owned)*4/5])
	cases := []struct {
		name string
		f    Filter
		old  string // the owner the old way listed; "" every job
	}{
		{"owner-first", Filter{Readable: &own}, "u1"},
		{"owner-deep", Filter{Readable: &own, After: &deep}, "u1"},
		{"all-admin-first", Filter{Readable: &admin}, ""},
		{"owner-q-term", Filter{Readable: &own, Query: "रिपोर्ट"}, "u1"},
		{"owner-q-none", Filter{Readable: &own, Query: "no such name"}, "u1"},
		{"owner-sort-status", Filter{Readable: &own, Sort: SortStatus}, "u1"},
		{"all-admin-sort-status", Filter{Readable: &admin, Sort: SortStatus}, ""},
	}
	for _, c := range cases {
		c.f.Limit = 51
		b.Run(c.name, func(b *testing.B) {
			if db.Dialect == sqldb.SQLite {
				b.Logf("plan: %s", queryPlan(b, db, q, c.f))
			}
			var page []Job
			for i := 0; i < b.N; i++ {
				if page, err = q.List(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(len(page)), "jobs")
			reportOldWay(b, func() {
				all, err := q.List(ctx, Filter{OwnerID: c.old})
				if err != nil {
					b.Fatal(err)
				}
				if want := c.f.page(all); len(want) != len(page) {
					b.Fatalf("the old way gives %d jobs, the page %d", len(want), len(page))
				}
			})
		})
	}
	// The analytics summary's jobs by status: counted in SQL, against the
	// old way in the same run (List of the scope, counted in Go).
	for _, c := range []struct {
		name string
		f    Filter
	}{{"by-status-owner", Filter{Readable: &own}}, {"by-status-all-admin", Filter{Readable: &admin}}} {
		b.Run(c.name, func(b *testing.B) {
			var counts map[string]int
			for i := 0; i < b.N; i++ {
				if counts, err = q.CountByStatus(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportOldWay(b, func() {
				all, err := q.List(ctx, c.f)
				if err != nil {
					b.Fatal(err)
				}
				if want := countStatuses(all); !maps.Equal(want, counts) {
					b.Fatalf("the old way counts %v, SQL %v", want, counts)
				}
			})
		})
	}
}

// reportOldWay times old (the old way of the benchmark's read, with its
// checks) three times and reports the fastest as old-ns and against the
// benchmark's own time per operation as x-old.
func reportOldWay(b *testing.B, old func()) {
	var best time.Duration
	for i := 0; i < 3; i++ {
		at := time.Now()
		old()
		if took := time.Since(at); i == 0 || took < best {
			best = took
		}
	}
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(best.Nanoseconds()), "old-ns")
	b.ReportMetric(float64(best.Nanoseconds())/perOp, "x-old")
}

// benchSchema is url ("" for SQLite) in a PostgreSQL schema of the
// benchmark's own, dropped at its end, so it neither reuses nor leaves
// tables in a shared database.
func benchSchema(b *testing.B, url string) string {
	if url == "" {
		return ""
	}
	db, err := sqldb.Open(context.Background(), url, "")
	if err != nil {
		b.Fatal(err)
	}
	schema := fmt.Sprintf("history_bench_%d", time.Now().UnixNano())
	if _, err := db.Exec(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = db.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		db.Close()
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// queryPlan is SQLite's plan for f's query, on one line.
func queryPlan(b *testing.B, db *sqldb.DB, q *JobQueries, f Filter) string {
	query, args := pageQuery(db.Dialect, q.readCols(), q.tables().Name("jobs"), f)
	rows, err := db.Query(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			b.Fatal(err)
		}
		steps = append(steps, detail)
	}
	return strings.Join(steps, "; ")
}
