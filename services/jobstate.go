package services

import (
	"context"
	"errors"
	"fmt"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// jobState is what commands need to know about a job, folded from its
// control events only (there are a handful per job, whatever its size).
type jobState struct {
	ID         string
	Owner      events.Actor
	Status     string
	ControlSeq uint64
	Started    *events.JobStarted
	Attempt    int
	Config     events.JobConfig
}

// loadJob reads a job's control events. A job nobody started is NotFound.
func loadJob(ctx context.Context, store events.Store, jobID string) (*jobState, error) {
	return loadJobAt(ctx, store, jobID, 0)
}

// loadJobAt is loadJob as of sequence upTo (0: the end of the log).
func loadJobAt(ctx context.Context, store events.Store, jobID string, upTo uint64) (*jobState, error) {
	if !events.ValidJobID(jobID) {
		return nil, apperr.New(apperr.NotFound, "job %q not found", jobID)
	}
	st := &jobState{ID: jobID}
	err := store.Read(ctx, events.ControlSubject(jobID), 1, func(env events.Envelope) error {
		if upTo > 0 && env.Seq > upTo {
			return nil
		}
		ev, err := env.Decode()
		if err != nil {
			return err
		}
		st.ControlSeq = env.Seq
		switch e := ev.(type) {
		case *events.JobStarted:
			st.Started, st.Owner, st.Attempt, st.Config = e, env.Actor, 1, e.Config
		case *events.JobRetried:
			st.Attempt, st.Config = e.Attempt, e.Config
		}
		if s := events.StatusAfter(env.Type); s != "" {
			st.Status = s
		}
		return nil
	})
	if err != nil {
		return nil, apperr.Wrap(err, "load job")
	}
	if st.Started == nil {
		return nil, apperr.New(apperr.NotFound, "job %q not found", jobID)
	}
	return st, nil
}

// Caller is who issues a command.
type Caller struct {
	Actor      events.Actor
	ControlAll bool // admins control every job
	ReadAll    bool // auditors and admins read every job
}

// controllableBy hides jobs of other owners behind NotFound, so ids of other
// people's jobs cannot be probed.
func (s *jobState) controllableBy(c Caller) error {
	if c.ControlAll || s.Owner.ID == c.Actor.ID {
		return nil
	}
	if c.ReadAll {
		return apperr.New(apperr.Forbidden, "auditors can read job %q but not control it", s.ID)
	}
	return apperr.New(apperr.NotFound, "job %q not found", s.ID)
}

// withRetry runs a read-check-append cycle again when a concurrent append
// won the race, so the check always sees the state it appends on.
func withRetry(ctx context.Context, attempts int, fn func() error) error {
	var err error
	for i := 0; i < attempts; i++ {
		err = fn()
		if !errors.Is(err, events.ErrConflict) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return apperr.New(apperr.Conflict, "the job changed concurrently too often; try again")
}

// secretID names a job attempt's API key in the secret store. Keys are per
// attempt so that clean-up after one attempt can never delete the key a
// retry has just stored.
func secretID(jobID string, attempt int) string { return fmt.Sprintf("%s.%d", jobID, attempt) }
