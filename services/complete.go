package services

import (
	"context"
	"errors"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// CompleteIfDone appends JobCompleted (or JobFailed when every document
// failed) once every document of a live job has an outcome, as the decider
// says. The append is guarded by the job's control sequence, so it cannot
// overtake a cancel.
func CompleteIfDone(ctx context.Context, store events.Store, jobID string) error {
	return jobpkg.WithRetry(ctx, 10, func() error {
		job, err := jobpkg.LoadFull(ctx, store, jobID)
		if err != nil {
			return err
		}
		ev, ok := job.Complete()
		if !ok {
			return nil
		}
		env, err := events.New(jobID, events.System, ev)
		if err != nil {
			return err
		}
		_, err = store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(jobID), Seq: job.ControlSeq})
		return err
	})
}

// JobLister is the part of the job-status model the reconciler reads: it
// only says which jobs to look at; every decision is taken on the log.
type JobLister interface {
	List(ctx context.Context, f projections.Filter) ([]projections.Job, error)
}

// Reconcile completes live jobs whose documents all have outcomes. Workers
// complete jobs themselves; this catches a worker that died between the
// last outcome and the completion. A job that cannot be reconciled is
// logged by the caller through the joined error; the others still are.
// redispatch, if not nil, is called for every live job that is not done,
// so work lost from the task queue is queued again.
func Reconcile(ctx context.Context, store events.Store, jobs JobLister, redispatch ...func(ctx context.Context, jobID string) error) error {
	var errs []error
	live, err := jobs.List(ctx, projections.Filter{Status: []string{events.StatusPending, events.StatusProcessing, events.StatusPaused}})
	if err != nil {
		return err
	}
	for _, j := range live {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if j.Processed+j.Failed+j.Cancelled >= j.Total {
			if err := CompleteIfDone(ctx, store, j.ID); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		for _, fn := range redispatch {
			if err := fn(ctx, j.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
