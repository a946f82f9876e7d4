package services

import (
	"context"
	"fmt"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// completeIfDone appends JobCompleted (or JobFailed when every document
// failed) once every document of a live job has an outcome. The append is
// guarded by the job's control sequence, so it cannot overtake a cancel.
func completeIfDone(ctx context.Context, store events.Store, jobID string) error {
	return withRetry(ctx, 10, func() error {
		model := projections.NewJobStatus()
		if err := store.Read(ctx, events.JobSubjects(jobID), 1, model.Apply); err != nil {
			return err
		}
		job, ok := model.Get(jobID)
		if !ok || events.Terminal(job.Status) || job.Processed+job.Failed+job.Cancelled < job.Total {
			return nil
		}
		var ev events.Event = events.JobCompleted{Processed: job.Processed, Failed: job.Failed, Cancelled: job.Cancelled}
		if job.Processed == 0 && job.Failed > 0 {
			ev = events.JobFailed{Reason: fmt.Sprintf("all %d documents failed", job.Failed), Code: "all_failed"}
		}
		env, err := events.New(jobID, events.System, ev)
		if err != nil {
			return err
		}
		_, err = store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(jobID), Seq: job.ControlSeq})
		return err
	})
}

// JobLister is the part of the job-status model the reconciler reads.
type JobLister interface {
	List(f projections.Filter) []projections.Job
}

// Reconcile completes live jobs whose documents all have outcomes. Workers
// complete jobs themselves; this catches a worker that died between the
// last outcome and the completion.
func Reconcile(ctx context.Context, store events.Store, jobs JobLister) error {
	live := jobs.List(projections.Filter{Status: []string{events.StatusPending, events.StatusProcessing, events.StatusPaused}})
	for _, j := range live {
		if j.Processed+j.Failed+j.Cancelled >= j.Total {
			if err := completeIfDone(ctx, store, j.ID); err != nil {
				return err
			}
		}
	}
	return nil
}
