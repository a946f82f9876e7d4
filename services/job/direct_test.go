package job_test

import (
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services/job"
)

// A cached outcome is recorded without a start, only while the attempt may
// start, and guarded by the document's last event; the job counts it and
// completes as with a started document (the read model agrees: crossCheck).
func TestDirectOutcomeWithoutAStart(t *testing.T) {
	h := started(t, 2)
	doc := func(row int) *events.Envelope {
		var last *events.Envelope
		for i := range h.envs {
			if env := h.envs[i]; env.Subject == events.DocSubject(id, row) {
				last = &env
			}
		}
		return last
	}
	if d := h.state().DecideDirect(doc(0), 1); d != (job.Direct{Verdict: job.StartNow}) {
		t.Fatalf("a pending document with no event: %+v", d)
	}
	h.add(events.JobPaused{})
	if d := h.state().DecideDirect(doc(0), 1); d.Verdict != job.StartLater {
		t.Fatalf("a paused job records no cached outcome: %+v", d)
	}
	h.add(events.JobResumed{}).add(docStarted(1, 1)) // row 1: its process died
	if d := h.state().DecideDirect(doc(1), 1); d.Verdict != job.StartNow || d.Guard != doc(1).Seq {
		t.Fatalf("a start without an outcome is ended by the cached outcome, guarded by it: %+v", d)
	}
	h.add(tagged(0, 1))
	if s := h.state(); s.Docs[0].Status != job.DocSuccess || s.Processed != 1 || s.Status != events.StatusProcessing {
		t.Fatalf("a tagged document without a start: %+v", s.Docs[0])
	}
	if d := h.state().DecideDirect(doc(0), 1); d.Verdict != job.StartNever {
		t.Fatalf("an attempt with an outcome gets no second one: %+v", d)
	}
	h.add(tagged(1, 1))
	ev, ok := h.state().Complete()
	if !ok || ev.(events.JobCompleted) != (events.JobCompleted{Processed: 2}) {
		t.Fatalf("complete: %#v %v", ev, ok)
	}
	h.add(events.JobCancelled{})
	if d := h.state().DecideDirect(nil, 1); d.Verdict != job.StartNever {
		t.Fatalf("nothing is recorded after the job ended: %+v", d)
	}
}
