package projections

import (
	"context"
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// governedLog: job-a is erased, job-b held, job-c held then released.
func governedLog(t *testing.T) sliceLog {
	var envs []events.Envelope
	for _, id := range []string{"job-a", "job-b", "job-c"} {
		envs = append(envs, known(t, id, events.JobStarted{InputID: "in-" + id, Total: 1, Config: events.JobConfig{Model: "m1"}}),
			known(t, id, events.JobCompleted{Processed: 1}))
	}
	envs = append(envs, known(t, "job-a", events.JobErased{Reason: "subject request"}),
		known(t, "job-b", events.LegalHoldSet{On: true, Reason: "litigation 7"}),
		known(t, "job-c", events.LegalHoldSet{On: true, Reason: "audit"}),
		known(t, "job-c", events.LegalHoldSet{On: false, Reason: "audit closed"}))
	return logOf(t, envs...)
}

func governance(j Job) string {
	at := "-"
	if j.ErasedAt != nil {
		at = "at"
	}
	return fmt.Sprintf("erased=%v %s %q hold=%v %q", j.Erased, at, j.EraseReason, j.LegalHold, j.LegalHoldReason)
}

// Job status carries erasure and legal hold, in the SQL model as in the
// reference; an erased or held job keeps its status and counts.
func TestJobStatusCarriesErasureAndHold(t *testing.T) {
	want := map[string]string{
		"job-a": `erased=true at "subject request" hold=false ""`,
		"job-b": `erased=false - "" hold=true "litigation 7"`,
		"job-c": `erased=false - "" hold=false ""`,
	}
	log := governedLog(t)
	check := func(t *testing.T, get func(context.Context, string) (Job, bool, error)) {
		for id, w := range want {
			j, ok, err := get(context.Background(), id)
			if err != nil || !ok {
				t.Fatalf("%s: %v %v", id, ok, err)
			}
			if got := governance(j); got != w {
				t.Errorf("%s: %s, want %s", id, got, w)
			}
			if j.Status != events.StatusCompleted || j.Total != 1 {
				t.Errorf("%s: status %s total %d", id, j.Status, j.Total)
			}
		}
	}
	ref := NewJobStatus()
	if err := NewRunner(log, ref).CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	check(t, ref.Get)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		r := NewSQLRunner(open(), log, JobStatusModel{})
		if err := r.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		check(t, NewJobQueries(r).Get)
	})
}

// jobStatusV2 builds the job-status tables as release 2 did (no erasure or
// hold columns, nor name_lc of release 4); it applies nothing, as the test only reads its shape.
type jobStatusV2 struct{ JobStatusModel }

func (jobStatusV2) Version() int { return 2 }

func (jobStatusV2) Create(ctx context.Context, tx *sqldb.Tx, t Tables) error {
	if err := (JobStatusModel{}).Create(ctx, tx, t); err != nil {
		return err
	}
	for _, c := range []string{"erased_at", "erase_reason", "legal_hold", "legal_hold_reason", "name_lc"} {
		if _, err := tx.Exec(ctx, `ALTER TABLE `+t.Name("jobs")+` DROP COLUMN `+c); err != nil {
			return err
		}
	}
	return nil
}

func (jobStatusV2) Apply(context.Context, *sqldb.Tx, Tables, events.Envelope) error { return nil }

// After an upgrade, job reads answer from the older tables (which lack the
// new columns) until the rebuild beside them switches; then the new
// fields show.
func TestJobStatusReadsOlderTablesUntilRebuilt(t *testing.T) {
	log := governedLog(t)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		old := NewSQLRunner(open(), log, jobStatusV2{})
		if err := old.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := old.DB().Exec(ctx, `INSERT INTO `+old.Tables(JobStatusName).Name("jobs")+` (job_id, owner_id, owner_email, status, total, processed, failed, cancelled, attempt, config, reason, reason_code,
			created, updated, control_seq, request_digest, usage, columns, column_mapping, last_seq, org_id)
			VALUES ('job-b', 'u', '', 'completed', 1, 1, 0, 0, 1, '{}', '', '', 1, 1, 0, '', '{}', 'null', 'null', 0, '')`); err != nil {
			t.Fatal(err)
		}
		old.DB().Close()
		r := NewSQLRunner(open(), log, JobStatusModel{})
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(r.NeedsRebuild()); got != "[job-status]" {
			t.Fatalf("needs rebuild: %s", got)
		}
		q := NewJobQueries(r)
		j, ok, err := q.Get(ctx, "job-b")
		if err != nil || !ok || j.Status != events.StatusCompleted || j.LegalHold {
			t.Fatalf("before the rebuild: %+v %v %v", j, ok, err)
		}
		if list, err := q.List(ctx, Filter{}); err != nil || len(list) != 1 {
			t.Fatalf("list before the rebuild: %v %v", list, err)
		}
		// Without name_lc, q is filtered in Go over the unpaged rows.
		for q2, want := range map[string]int{"JOB-b": 1, "other": 0} {
			if list, err := q.List(ctx, Filter{Query: q2, Limit: 1}); err != nil || len(list) != want {
				t.Fatalf("q=%s before the rebuild: %v %v, want %d jobs", q2, list, err, want)
			}
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.Rebuild(ctx, JobStatusName, nil); err != nil {
			t.Fatal(err)
		}
		if j, _, err = q.Get(ctx, "job-b"); err != nil || governance(j) != `erased=false - "" hold=true "litigation 7"` {
			t.Fatalf("after the rebuild: %s %v", governance(j), err)
		}
	})
}
