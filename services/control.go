package services

import (
	"context"
	"unicode"
	"unicode/utf8"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// Actions a ChangeJob command can take.
const (
	ActionPause  = jobpkg.ActionPause
	ActionResume = jobpkg.ActionResume
	ActionCancel = jobpkg.ActionCancel
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

// checkReason: a reason is shown in audit views and terminals and kept
// in the log for good, so it is text: UTF-8, line breaks and tabs but no
// other control characters (a NUL, an escape sequence).
func checkReason(reason string) error {
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		return apperr.Field("reason", "must be at most %d characters", MaxReasonLength)
	}
	if !utf8.ValidString(reason) {
		return apperr.Field("reason", "is not valid UTF-8")
	}
	for _, r := range reason {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return apperr.Field("reason", "must not contain control characters other than line breaks and tabs")
		}
	}
	return nil
}

// loadControllable loads a job the caller may control.
func loadControllable(ctx context.Context, store events.Store, jobID string, c Caller) (*jobState, error) {
	job, err := loadJob(ctx, store, jobID)
	if err != nil {
		return nil, err
	}
	return job, controllableBy(job, c)
}

// Handle checks that the action is allowed in the job's current state and
// appends its event, guarded by the sequence the check saw.
func (h ChangeJobHandler) Handle(ctx context.Context, cmd ChangeJob) (ChangeResult, error) {
	if err := checkReason(cmd.Reason); err != nil {
		return ChangeResult{}, err
	}
	var res ChangeResult
	err := jobpkg.WithRetry(ctx, 10, func() error {
		job, err := loadControllable(ctx, h.store, cmd.JobID, cmd.Caller)
		if err != nil {
			return err
		}
		ev, err := job.Decide(jobpkg.Command{Action: cmd.Action, Reason: cmd.Reason})
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
		// The status the event leaves the job in, by the same fold.
		job.ApplyEvent(events.Envelope{Type: ev.EventType(), Seq: seq}, ev)
		res = ChangeResult{JobID: job.ID, Status: job.Status, Seq: seq}
		return nil
	})
	return res, err
}
