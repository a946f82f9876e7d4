package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// busyLog is a deterministic log of several jobs that exercises every
// rule of the two models: chunks claimed by a start, outcomes of old
// attempts, second outcomes, releases, pauses, cancels with documents in
// flight, failures, retries, completions, webhook reports, rows out of
// range, events of a job that never started, and repeated events.
func busyLog(t *testing.T, seed uint64) sliceLog {
	rng := rand.New(rand.NewPCG(seed, 7))
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var envs []events.Envelope
	add := func(job string, ev events.Event) {
		env, err := events.New(job, events.User("u-"+job[len(job)-1:], job+"@example.com"), ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Time = base.Add(time.Duration(len(envs)) * 1500 * time.Millisecond)
		envs = append(envs, env)
	}
	cache := false
	for j := 0; j < 6; j++ {
		job := fmt.Sprintf("job-%d", j)
		n := 3 + rng.IntN(6)
		in := "in-" + job
		for c := 0; c*4 < n; c++ {
			var docs []events.Document
			for r := c * 4; r < min(n, c*4+4); r++ {
				docs = append(docs, events.Document{Row: r, FilePath: fmt.Sprintf("d%d.pdf", r), Title: fmt.Sprintf("Doc %d of %s", r, job),
					Extra: map[string]any{"dept": fmt.Sprintf("d%d", r%3), "n": float64(r)}})
			}
			add(job, events.DocumentsSubmitted{InputID: in, Chunk: c, Documents: docs})
		}
		org := ""
		if j%2 == 0 {
			org = "org-" + job // organisation jobs must keep their org_id in every store
		}
		add(job, events.JobStarted{InputID: in, Chunks: (n + 3) / 4, Total: n, RequestDigest: "digest-" + job, OrgID: org,
			Config: events.JobConfig{Model: "m1", NumTags: 5, OCR: "auto", Cache: &cache}, Columns: []string{"dept", "n"},
			ColumnMapping: map[string]string{"file": "file_path"}})
	}
	add("job-ghost", events.DocumentStarted{Row: 0, Attempt: 1})
	attempts := map[string]int{}
	for i := 0; i < 160; i++ {
		job := fmt.Sprintf("job-%d", rng.IntN(6))
		a := max(attempts[job], 1)
		row := rng.IntN(10) // sometimes out of range
		md := events.TagMetadata{Model: "m1", Calls: 1, PromptTokens: 100 + i, CompletionTokens: 10, CostUSD: 0.001 * float64(i)}
		switch k := rng.IntN(20); {
		case k < 5:
			add(job, events.DocumentStarted{Row: row, Attempt: a})
		case k < 9:
			add(job, events.DocumentTagged{Row: row, Attempt: a - rng.IntN(2), Tags: []string{"t1", fmt.Sprintf("t%d", i)}, Metadata: md})
		case k < 12:
			add(job, events.DocumentFailed{Row: row, Attempt: a, Error: "boom", Code: "fetch", Metadata: md})
		case k < 13:
			add(job, events.DocumentReleased{Row: row, Attempt: a})
		case k < 14:
			add(job, events.JobPaused{Reason: "hold", Code: "model_unreachable"})
		case k < 15:
			add(job, events.JobResumed{})
		case k < 16:
			add(job, events.JobCancelled{Reason: "stop"})
		case k < 17:
			add(job, events.JobFailed{Reason: "bad", Code: "all_failed"})
		case k < 18:
			attempts[job] = a + 1
			add(job, events.JobRetried{Attempt: a + 1, Rows: []int{0, 1, row}, Config: events.JobConfig{Model: "m2"}})
		case k < 19:
			add(job, events.JobCompleted{Processed: 1, Failed: 1, Cancelled: rng.IntN(2)})
		default:
			add(job, events.WebhookAttempted{})
		}
		if rng.IntN(15) == 0 && len(envs) > 1 {
			envs = append(envs, envs[len(envs)-1]) // a repeated event (as a duplicate publish would be)
			envs[len(envs)-1].Time = base.Add(time.Duration(len(envs)) * time.Second)
		}
	}
	// Governance: a hold set and kept, a hold set and lifted, an erasure
	// (asked twice: the first one's time and reason stay).
	add("job-1", events.LegalHoldSet{On: true, Reason: "litigation 7"})
	add("job-3", events.LegalHoldSet{On: true, Reason: "audit"})
	add("job-2", events.JobErased{Reason: "subject request"})
	add("job-3", events.LegalHoldSet{On: false, Reason: "audit closed"})
	add("job-2", events.JobErased{Reason: "again"})
	return logOf(t, envs...)
}

type jobReading interface {
	List(ctx context.Context, f Filter) ([]Job, error)
	DocStatuses(ctx context.Context, id string) ([]DocState, error)
}

type resultReading interface {
	Page(ctx context.Context, jobID string, from, limit int) ([]Result, int, bool, error)
}

// canonicalDump is what both models answer, as JSON: every job with its
// documents' states, columns and every result row, in a fixed order.
func canonicalDump(t *testing.T, jr jobReading, rr resultReading) []byte {
	t.Helper()
	ctx := context.Background()
	jobs, err := jr.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Job           Job
		Columns       []string
		ColumnMapping map[string]string
		Docs          []DocState
		Results       []Result
		Total         int
	}
	var out []entry
	for _, j := range jobs {
		docs, err := jr.DocStatuses(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		rows, total, _, err := rr.Page(ctx, j.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{j, j.Columns, j.ColumnMapping, docs, rows, total})
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func referenceDump(t *testing.T, log sliceLog) []byte {
	jobs, results := NewJobStatus(), NewDocumentResults()
	r := NewRunner(log, jobs, results)
	if err := r.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return canonicalDump(t, jobs, results)
}

func sqlDump(t *testing.T, r *SQLRunner) []byte {
	return canonicalDump(t, NewJobQueries(r), NewResultQueries(r))
}

func firstDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(la), len(lb))
}

// The SQL models answer exactly as the in-memory reference models for the
// same log, on SQLite and on PostgreSQL, whatever the batch size, and the
// two databases give byte-equal canonical dumps.
func TestSQLModelsEqualTheReference(t *testing.T) {
	dumps := map[string][]byte{}
	for _, seed := range []uint64{1, 2, 3} {
		log := busyLog(t, seed)
		want := referenceDump(t, log)
		stores(t, func(t *testing.T, open func() *sqldb.DB) {
			r := NewSQLRunner(open(), log, JobStatusModel{}, ResultsModel{})
			r.BatchSize = 1 + int(seed)*13
			ctx := context.Background()
			if err := r.Open(ctx); err != nil {
				t.Fatal(err)
			}
			if err := r.CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
			got := sqlDump(t, r)
			if !bytes.Equal(got, want) {
				t.Fatalf("seed %d: SQL models differ from the reference: %s", seed, firstDiff(got, want))
			}
			for _, st := range r.Status() {
				if st.State != StateRunning || st.Seq != uint64(len(log)) {
					t.Fatalf("status %+v", st)
				}
			}
			dumps[string(r.DB().Dialect)] = got
		})
		if len(dumps) == 2 && !bytes.Equal(dumps["sqlite"], dumps["postgres"]) {
			t.Fatalf("seed %d: SQLite and PostgreSQL dumps differ", seed)
		}
	}
}

// Stopping anywhere (close, reopen, continue) gives the same models as one
// run: the checkpoint moves with the rows, so nothing is applied twice or
// lost.
func TestSQLModelsRestartResumesFromCheckpoint(t *testing.T) {
	log := busyLog(t, 4)
	want := referenceDump(t, log)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		var r *SQLRunner
		for _, cut := range []int{1, 9, 40, 41, 120, len(log)} {
			r = NewSQLRunner(open(), log[:cut], JobStatusModel{}, ResultsModel{})
			r.BatchSize = 11
			if err := r.Open(ctx); err != nil {
				t.Fatal(err)
			}
			if err := r.CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
			if r.Applied() != uint64(cut) {
				t.Fatalf("applied %d after a run to %d", r.Applied(), cut)
			}
			if cut < len(log) {
				r.DB().Close()
			}
		}
		if got := sqlDump(t, r); !bytes.Equal(got, want) {
			t.Fatalf("after restarts: %s", firstDiff(got, want))
		}
	})
}

// Each model tolerates an event applied twice (as the in-memory ones do):
// folding every event twice in a row changes nothing.
func TestSQLModelsAreIdempotent(t *testing.T) {
	log := busyLog(t, 5)
	want := referenceDump(t, log)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := NewSQLRunner(open(), sliceLog{}, JobStatusModel{}, ResultsModel{})
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		tx, err := r.DB().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range log {
			if err := env.Load(); err != nil {
				continue
			}
			for _, m := range []SQLModel{JobStatusModel{}, ResultsModel{}} {
				for range 2 {
					if err := m.Apply(ctx, tx, r.Tables(m.Name()), env); err != nil {
						t.Fatalf("%s at %d: %v", m.Name(), env.Seq, err)
					}
				}
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := sqlDump(t, r); !bytes.Equal(got, want) {
			t.Fatalf("applied twice: %s", firstDiff(got, want))
		}
	})
}
