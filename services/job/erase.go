package job

import (
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// Erasure and legal hold rules (issue 15):
//   - a job is erased only once it has ended (completed, failed or
//     cancelled): a running job still writes document data, and its
//     workers would need the key the erasure destroys. Cancel it first.
//   - a job under legal hold is not erased, by a user or by retention.
//   - an erased job takes no other command (its documents are gone, so
//     there is nothing to retry or resume); a hold may still be set or
//     lifted, to record what the auditors asked.
//   - a hold is set when off and lifted when on: each is an event.

func (s *State) applyGovernance(env events.Envelope, ev events.Event) {
	switch e := ev.(type) {
	case *events.JobErased:
		s.Erased = true
	case *events.LegalHoldSet:
		s.Hold = e.On
	}
	s.ControlSeq = env.Seq
}

func errErasedJob(id string) error {
	return apperr.New(apperr.Conflict, "job %s was erased: its documents are gone", id)
}

// DecideErase returns the JobErased to append, or why the job may not be
// erased now.
func (s *State) DecideErase(reason string) (events.JobErased, error) {
	switch {
	case s.Erased:
		return events.JobErased{}, errErasedJob(s.ID)
	case s.Hold:
		return events.JobErased{}, apperr.New(apperr.Conflict, "job %s is under legal hold: lift the hold before erasing it", s.ID)
	case !events.Terminal(s.Status):
		return events.JobErased{}, apperr.New(apperr.Conflict,
			"job %s is %s: only an ended job can be erased; cancel it or wait for it to end", s.ID, s.Status)
	}
	return events.JobErased{Reason: reason}, nil
}

// DecideLegalHold returns the LegalHoldSet to append, or why not.
func (s *State) DecideLegalHold(on bool, reason string) (events.LegalHoldSet, error) {
	if s.Hold == on {
		state := "off"
		if on {
			state = "on"
		}
		return events.LegalHoldSet{}, apperr.New(apperr.Conflict, "job %s's legal hold is already %s", s.ID, state)
	}
	return events.LegalHoldSet{On: on, Reason: reason}, nil
}
