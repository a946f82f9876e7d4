package job_test

import (
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services/job"
)

// docEvents are one document's events, as its subject holds them.
func docEvents(h *history, row int) []events.Envelope {
	var out []events.Envelope
	for _, env := range h.envs {
		if env.Subject == events.DocSubject(id, row) {
			out = append(out, env)
		}
	}
	return out
}

func TestQuarantineAfterRepeatedDeathsOfOneAttempt(t *testing.T) {
	h := started(t, 2)
	for i := 1; i < job.PoisonAfter; i++ {
		h.add(docStarted(0, 1))
		if _, q := h.state().Quarantine(0, 1); q {
			t.Fatalf("quarantined after %d starts, want only after %d", i, job.PoisonAfter)
		}
		if _, q := job.FoldDoc(docEvents(h, 0)).Quarantine(0, 1); q {
			t.Fatalf("document fold quarantined after %d starts", i)
		}
	}
	h.add(docStarted(0, 1)).add(docStarted(1, 1))
	for name, got := range map[string]func() (events.DocumentFailed, bool){
		"job fold": func() (events.DocumentFailed, bool) { return h.state().Quarantine(0, 1) },
		"doc fold": func() (events.DocumentFailed, bool) { return job.FoldDoc(docEvents(h, 0)).Quarantine(0, 1) },
	} {
		ev, q := got()
		if !q || ev.Code != job.CodePoison || ev.Row != 0 || ev.Attempt != 1 || !strings.Contains(ev.Error, "quarantined") {
			t.Fatalf("%s: %d unfinished starts: quarantine=%v %+v", name, job.PoisonAfter, q, ev)
		}
	}
	// The other document, started once, is not touched, and the
	// quarantine's own failure is an ordinary outcome for the job.
	if _, q := h.state().Quarantine(1, 1); q {
		t.Fatal("a document started once was quarantined")
	}
	ev, _ := h.state().Quarantine(0, 1)
	h.add(ev).add(tagged(1, 1))
	s := h.state()
	if s.Failed != 1 || s.Processed != 1 {
		t.Fatalf("after quarantine: processed %d failed %d", s.Processed, s.Failed)
	}
	if _, ok := s.Complete(); !ok {
		t.Fatal("the job does not complete after its poison document was quarantined")
	}
	if _, q := s.Quarantine(0, 1); q {
		t.Fatal("a document with an outcome is quarantined again")
	}
}

func TestQuarantineCountsOnlyTheTaskAttempt(t *testing.T) {
	h := started(t, 1)
	for i := 0; i < job.PoisonAfter; i++ {
		h.add(docStarted(0, 1))
	}
	h.add(failed(0, 1))
	if _, q := h.state().Quarantine(0, 1); q {
		t.Fatal("an attempt that recorded an outcome is quarantined")
	}
	// A retry is a new attempt: the user asked for it, so it starts
	// afresh (and is quarantined again only if it dies again).
	h.add(events.JobRetried{Attempt: 2, Rows: []int{0}})
	h.add(docStarted(0, 2))
	if _, q := h.state().Quarantine(0, 2); q {
		t.Fatal("the retry's first start counts the first attempt's deaths")
	}
	if _, q := h.state().Quarantine(0, 1); q {
		t.Fatal("a stale task of the old attempt is quarantined instead of dropped")
	}
	// Starts seen twice (a redelivered read) are one start.
	h.add(docStarted(0, 2)).dup().dup()
	if _, q := h.state().Quarantine(0, 2); q {
		t.Fatal("duplicate deliveries of one start counted as deaths")
	}
	if _, q := job.FoldDoc(nil).Quarantine(0, 1); q {
		t.Fatal("a document never started is quarantined")
	}
}

func TestSuspectIsAStartOfTheSameAttemptWithoutOutcome(t *testing.T) {
	h := started(t, 1).add(docStarted(0, 2))
	last := h.envs[len(h.envs)-1]
	if !job.Suspect(last, 2) || job.Suspect(last, 1) || job.Suspect(last, 3) {
		t.Fatal("a start is suspect for its own attempt only")
	}
	h.add(tagged(0, 2))
	if job.Suspect(h.envs[len(h.envs)-1], 2) {
		t.Fatal("an outcome is suspect")
	}
}

// A start that its worker gave back on purpose (DocumentReleased: the model
// endpoint was unreachable, a shutdown) is no death: however often it
// happens the document is neither suspect nor quarantined, while real
// deaths between the releases still count.
func TestReleasedStartsAreNotDeaths(t *testing.T) {
	h := started(t, 1)
	release := events.DocumentReleased{Row: 0, Attempt: 1, Reason: "cannot reach the model endpoint", Code: "model_unreachable"}
	for i := 0; i < 3*job.PoisonAfter; i++ {
		h.add(docStarted(0, 1)).add(release)
		for name, q := range map[string]bool{
			"job fold": func() bool { _, q := h.state().Quarantine(0, 1); return q }(),
			"doc fold": func() bool { _, q := job.FoldDoc(docEvents(h, 0)).Quarantine(0, 1); return q }(),
		} {
			if q {
				t.Fatalf("%s: quarantined after %d released starts", name, i+1)
			}
		}
		envs := docEvents(h, 0)
		if job.Suspect(envs[len(envs)-1], 1) {
			t.Fatal("a released start makes the document suspect")
		}
	}
	if d := h.state().Docs[0]; d.Status != job.DocPending {
		t.Fatalf("released document reads %q, want pending", d.Status)
	}
	// Deaths still count between releases.
	for i := 0; i < job.PoisonAfter; i++ {
		h.add(docStarted(0, 1))
	}
	if _, q := h.state().Quarantine(0, 1); !q {
		t.Fatalf("%d deaths after releases were not quarantined", job.PoisonAfter)
	}
}
