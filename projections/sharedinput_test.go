package projections

import (
	"context"
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// sharedInputLog is three jobs started at once from the same documents:
// their input ids are the same (a digest of the documents and config)
// and their chunks interleave in the log, as concurrent starts write
// them; job-c's chunks come after job-a's start.
func sharedInputLog(t *testing.T) sliceLog {
	const in = "in-same"
	chunk := func(job string, c int) events.Envelope {
		var docs []events.Document
		for r := c * 2; r < min(3, c*2+2); r++ {
			docs = append(docs, events.Document{Row: r, FilePath: fmt.Sprintf("d%d.pdf", r), Title: fmt.Sprintf("Circular %d", r)})
		}
		return known(t, job, events.DocumentsSubmitted{InputID: in, Chunk: c, Documents: docs})
	}
	start := func(job string) events.Envelope {
		return known(t, job, events.JobStarted{InputID: in, Chunks: 2, Total: 3, RequestDigest: "same", Config: events.JobConfig{Model: "m1"}})
	}
	return logOf(t, chunk("job-a", 0), chunk("job-b", 0), chunk("job-a", 1), chunk("job-b", 1),
		start("job-a"), chunk("job-c", 0), start("job-b"), chunk("job-c", 1), start("job-c"))
}

// Jobs whose inputs share an id each keep their own documents. The read
// models kept chunks by input id alone: the first start deleted the other
// jobs' chunks with its own, which lost their titles and paths in results
// and search, and a rebuild, reading the same log, lost them again.
func TestJobsWithTheSameInputKeepTheirOwnDocuments(t *testing.T) {
	log := sharedInputLog(t)
	ctx := context.Background()
	check := func(t *testing.T, where, job string, titles []string) {
		t.Helper()
		if fmt.Sprint(titles) != "[Circular 0 Circular 1 Circular 2]" {
			t.Errorf("%s: %s has titles %q", where, job, titles)
		}
	}
	mem := NewDocumentResults()
	if err := NewRunner(log, mem).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{"job-a", "job-b", "job-c"} {
		rows, _, _, err := mem.Page(ctx, job, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "in memory", job, resultTitles(rows))
	}
	for _, batch := range []int{1, 100} { // each event alone (Apply), all at once (ApplyBatch)
		stores(t, func(t *testing.T, open func() *sqldb.DB) {
			r := NewSQLRunner(open(), log, ResultsModel{}, NewDocumentSearch())
			r.BatchSize = batch
			if err := r.Open(ctx); err != nil {
				t.Fatal(err)
			}
			if err := r.CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
			for _, job := range []string{"job-a", "job-b", "job-c"} {
				rows, _, _, err := NewResultQueries(r).Page(ctx, job, 0, 10)
				if err != nil {
					t.Fatal(err)
				}
				check(t, fmt.Sprintf("results, batches of %d", batch), job, resultTitles(rows))
				hits, _, err := NewSearchReader(r).Search(ctx, DocQuery{JobID: job, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for i := len(hits) - 1; i >= 0; i-- {
					got = append(got, hits[i].Title)
				}
				check(t, fmt.Sprintf("search, batches of %d", batch), job, got)
			}
		})
	}
}

func resultTitles(rows []Result) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Title
	}
	return out
}
