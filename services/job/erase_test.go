package job_test

import (
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services/job"
)

// Erasure needs an ended job without a hold; a hold is set when off and
// lifted when on; an erased job takes no other command. Neither event
// changes the job's status.
func TestEraseAndLegalHoldRules(t *testing.T) {
	live := started(t, 1)
	if _, err := live.state().DecideErase("r"); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("erase a pending job: %v", err)
	}
	h := started(t, 1).add(events.JobCancelled{Reason: "stop"})
	if _, err := h.state().DecideLegalHold(false, "r"); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("lift a hold that is not on: %v", err)
	}
	ev, err := h.state().DecideLegalHold(true, "litigation")
	if err != nil || !ev.On {
		t.Fatalf("set a hold: %+v %v", ev, err)
	}
	h.add(ev)
	s := h.state()
	if !s.Hold || s.Status != events.StatusCancelled || s.ControlSeq != 3 {
		t.Fatalf("after the hold: %+v", s)
	}
	if _, err := s.DecideErase("r"); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("erase under hold: %v", err)
	}
	lift, err := s.DecideLegalHold(false, "closed")
	if err != nil {
		t.Fatal(err)
	}
	h.add(lift)
	erased, err := h.state().DecideErase("request 4411")
	if err != nil || erased.Reason != "request 4411" {
		t.Fatalf("erase: %+v %v", erased, err)
	}
	h.add(erased)
	s = h.state()
	if !s.Erased || s.Status != events.StatusCancelled || s.ControlSeq != 5 {
		t.Fatalf("after the erasure: %+v", s)
	}
	for _, action := range []string{job.ActionRetry, job.ActionResume, job.ActionPause, job.ActionCancel} {
		if _, err := s.Decide(job.Command{Action: action}); apperr.Code(err) != apperr.Conflict {
			t.Errorf("%s an erased job: %v", action, err)
		}
	}
	if _, err := s.DecideErase("again"); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("erase twice: %v", err)
	}
}
