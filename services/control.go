package services

import (
	"context"
	"unicode/utf8"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// Actions a ChangeJob command can take.
const (
	ActionPause  = "pause"
	ActionResume = "resume"
	ActionCancel = "cancel"
)

// ChangeJob pauses, resumes or cancels a job.
type ChangeJob struct {
	JobID  string
	Action string
	Reason string
	Caller Caller
}

// ChangeResult is the job's status after a change.
type ChangeResult struct {
	JobID  string
	Status string
	Seq    uint64 // sequence of the appended event
}

// ChangeJobHandler handles ChangeJob.
type ChangeJobHandler struct {
	store events.Store
}

// NewChangeJobHandler returns a handler appending to store.
func NewChangeJobHandler(store events.Store) ChangeJobHandler {
	return ChangeJobHandler{store: store}
}

// MaxReasonLength bounds the free-text reason stored with a transition.
const MaxReasonLength = 500

func checkReason(reason string) error {
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		return apperr.Field("reason", "must be at most %d characters", MaxReasonLength)
	}
	return nil
}

// loadControllable loads a job the caller may control.
func loadControllable(ctx context.Context, store events.Store, jobID string, c Caller) (*jobState, error) {
	job, err := loadJob(ctx, store, jobID)
	if err != nil {
		return nil, err
	}
	return job, job.controllableBy(c)
}

// Handle checks that the action is allowed in the job's current state and
// appends its event, guarded by the sequence the check saw.
func (h ChangeJobHandler) Handle(ctx context.Context, cmd ChangeJob) (ChangeResult, error) {
	if err := checkReason(cmd.Reason); err != nil {
		return ChangeResult{}, err
	}
	var res ChangeResult
	err := withRetry(ctx, 10, func() error {
		job, err := loadControllable(ctx, h.store, cmd.JobID, cmd.Caller)
		if err != nil {
			return err
		}
		ev, status, err := transition(cmd.Action, job.Status, cmd.Reason)
		if err != nil {
			return err
		}
		env, err := events.New(job.ID, cmd.Caller.Actor, ev)
		if err != nil {
			return err
		}
		seq, err := h.store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(job.ID), Seq: job.ControlSeq})
		if err != nil {
			return err
		}
		res = ChangeResult{JobID: job.ID, Status: status, Seq: seq}
		return nil
	})
	return res, err
}

// transition is the table of allowed control transitions.
func transition(action, status, reason string) (events.Event, string, error) {
	active := status == events.StatusPending || status == events.StatusProcessing
	switch action {
	case ActionPause:
		if active {
			return events.JobPaused{Reason: reason}, events.StatusPaused, nil
		}
	case ActionResume:
		if status == events.StatusPaused {
			return events.JobResumed{Reason: reason}, events.StatusProcessing, nil
		}
	case ActionCancel:
		if !events.Terminal(status) {
			return events.JobCancelled{Reason: reason}, events.StatusCancelled, nil
		}
	default:
		return nil, "", apperr.New(apperr.Invalid, "unknown action %q", action)
	}
	return nil, "", apperr.New(apperr.Conflict, "cannot %s a job that is %s", action, status)
}
