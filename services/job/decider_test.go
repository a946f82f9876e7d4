package job_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services/job"
)

const id = "job-1"

// history builds a job's log with sequences, as the store would.
type history struct {
	t    *testing.T
	envs []events.Envelope
}

func (h *history) add(ev events.Event) *history {
	env, err := events.New(id, events.User("u1", "u1@example.com"), ev)
	if err != nil {
		h.t.Fatal(err)
	}
	env.Seq = uint64(len(h.envs) + 1)
	h.envs = append(h.envs, env)
	return h
}

func (h *history) dup() *history { // the last event seen again
	h.envs = append(h.envs, h.envs[len(h.envs)-1])
	return h
}

func started(t *testing.T, total int) *history {
	h := &history{t: t}
	return h.add(events.JobStarted{InputID: "in", Total: total, Config: events.JobConfig{Model: "m"}})
}

func (h *history) state() *job.State {
	s := job.New(id, true)
	for _, env := range h.envs {
		if err := s.Apply(env); err != nil {
			h.t.Fatal(err)
		}
	}
	h.crossCheck(s)
	return s
}

// crossCheck holds the read model to the decider's status and counts.
func (h *history) crossCheck(s *job.State) {
	h.t.Helper()
	model := projections.NewJobStatus()
	for _, env := range h.envs {
		if err := model.Apply(env); err != nil {
			h.t.Fatal(err)
		}
	}
	j, ok, _ := model.Get(context.Background(), id)
	if !ok {
		h.t.Fatal("read model does not know the job")
	}
	if j.Status != s.Status || j.Processed != s.Processed || j.Failed != s.Failed || j.Cancelled != s.Cancelled || j.Attempt != s.Attempt {
		h.t.Fatalf("read model %s p%d f%d c%d a%d, decider %s p%d f%d c%d a%d", j.Status, j.Processed, j.Failed, j.Cancelled, j.Attempt,
			s.Status, s.Processed, s.Failed, s.Cancelled, s.Attempt)
	}
}

func docStarted(row, attempt int) events.Event {
	return events.DocumentStarted{Row: row, Attempt: attempt}
}
func tagged(row, attempt int) events.Event {
	return events.DocumentTagged{Row: row, Attempt: attempt, Tags: []string{"t"}}
}
func failed(row, attempt int) events.Event {
	return events.DocumentFailed{Row: row, Attempt: attempt, Error: "e", Code: "c"}
}

func TestControlTransitions(t *testing.T) {
	type want struct {
		event string // "" when refused
		code  string
		msg   string
	}
	ok := func(ev string) want { return want{event: ev} }
	no := func(msg string) want { return want{code: apperr.Conflict, msg: msg} }
	cases := []struct {
		name   string
		hist   func(t *testing.T) *history
		status string
		pause  want
		resume want
		cancel want
	}{
		{"pending", func(t *testing.T) *history { return started(t, 2) }, events.StatusPending,
			ok(events.TypeJobPaused), no("cannot resume a job that is pending"), ok(events.TypeJobCancelled)},
		{"a document of the job is being tagged", func(t *testing.T) *history { return started(t, 2).add(docStarted(0, 1)) },
			events.StatusProcessing, ok(events.TypeJobPaused), no("cannot resume a job that is processing"), ok(events.TypeJobCancelled)},
		{"a document has an outcome", func(t *testing.T) *history { return started(t, 2).add(docStarted(0, 1)).add(tagged(0, 1)) },
			events.StatusProcessing, ok(events.TypeJobPaused), no("cannot resume a job that is processing"), ok(events.TypeJobCancelled)},
		{"paused", func(t *testing.T) *history { return started(t, 2).add(docStarted(0, 1)).add(events.JobPaused{}) },
			events.StatusPaused, no("cannot pause a job that is paused"), ok(events.TypeJobResumed), ok(events.TypeJobCancelled)},
		{"paused while pending", func(t *testing.T) *history { return started(t, 2).add(events.JobPaused{}) },
			events.StatusPaused, no("cannot pause a job that is paused"), ok(events.TypeJobResumed), ok(events.TypeJobCancelled)},
		{"resumed", func(t *testing.T) *history { return started(t, 2).add(events.JobPaused{}).add(events.JobResumed{}) },
			events.StatusProcessing, ok(events.TypeJobPaused), no("cannot resume a job that is processing"), ok(events.TypeJobCancelled)},
		{"cancelled", func(t *testing.T) *history { return started(t, 2).add(events.JobCancelled{Reason: "r"}) },
			events.StatusCancelled, no("cannot pause a job that is cancelled"), no("cannot resume a job that is cancelled"), no("cannot cancel a job that is cancelled")},
		{"failed", func(t *testing.T) *history { return started(t, 2).add(events.JobFailed{Reason: "401"}) },
			events.StatusFailed, no("cannot pause a job that is failed"), no("cannot resume a job that is failed"), no("cannot cancel a job that is failed")},
		{"completed", func(t *testing.T) *history {
			return started(t, 1).add(docStarted(0, 1)).add(tagged(0, 1)).add(events.JobCompleted{Processed: 1})
		}, events.StatusCompleted, no("cannot pause a job that is completed"), no("cannot resume a job that is completed"), no("cannot cancel a job that is completed")},
		{"retried", func(t *testing.T) *history {
			return started(t, 1).add(docStarted(0, 1)).add(failed(0, 1)).add(events.JobFailed{Reason: "all"}).add(events.JobRetried{Attempt: 2, Rows: []int{0}})
		}, events.StatusPending, ok(events.TypeJobPaused), no("cannot resume a job that is pending"), ok(events.TypeJobCancelled)},
		{"retried, an old attempt's start does not make it processing", func(t *testing.T) *history {
			return started(t, 2).add(docStarted(0, 1)).add(events.JobCancelled{}).add(events.JobRetried{Attempt: 2, Rows: []int{0, 1}, IncludeCancelled: true}).add(docStarted(1, 1))
		}, events.StatusPending, ok(events.TypeJobPaused), no("cannot resume a job that is pending"), ok(events.TypeJobCancelled)},
		{"retried and at work", func(t *testing.T) *history {
			return started(t, 1).add(docStarted(0, 1)).add(failed(0, 1)).add(events.JobFailed{}).add(events.JobRetried{Attempt: 2, Rows: []int{0}}).add(docStarted(0, 2))
		}, events.StatusProcessing, ok(events.TypeJobPaused), no("cannot resume a job that is processing"), ok(events.TypeJobCancelled)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.hist(t).state()
			if s.Status != c.status {
				t.Fatalf("status %q, want %q", s.Status, c.status)
			}
			for action, w := range map[string]want{job.ActionPause: c.pause, job.ActionResume: c.resume, job.ActionCancel: c.cancel} {
				ev, err := s.Decide(job.Command{Action: action, Reason: "why"})
				if w.event != "" {
					if err != nil || ev.EventType() != w.event {
						t.Fatalf("%s: got %v, %v; want %s", action, ev, err, w.event)
					}
					continue
				}
				if ev != nil || apperr.Code(err) != w.code || !strings.Contains(err.Error(), w.msg) {
					t.Fatalf("%s: got %v, %v; want %s %q", action, ev, err, w.code, w.msg)
				}
			}
		})
	}
}

func TestUnknownActionIsInvalid(t *testing.T) {
	_, err := started(t, 1).state().Decide(job.Command{Action: "explode"})
	if apperr.Code(err) != apperr.Invalid {
		t.Fatalf("got %v", err)
	}
}

func TestCanStartAndCanFailFollowTheAttempt(t *testing.T) {
	h := started(t, 2)
	s := h.state()
	if s.CanStart(1) != job.StartNow || !s.CanFail(1) || s.CanFail(2) {
		t.Fatal("attempt 1 of a pending job must start and may fail the job")
	}
	if h.add(events.JobPaused{}); h.state().CanStart(1) != job.StartLater || !h.state().CanFail(1) {
		t.Fatal("a paused job's tasks wait; a 401 in flight may still fail it")
	}
	h.add(events.JobCancelled{})
	if s := h.state(); s.CanStart(1) != job.StartNever || s.CanFail(1) {
		t.Fatal("nothing starts or fails after a cancel")
	}
	h.add(events.JobRetried{Attempt: 2, Rows: []int{0, 1}, IncludeCancelled: true})
	s = h.state()
	if s.CanStart(1) != job.StartNever || s.CanStart(2) != job.StartNow || s.CanStart(3) != job.StartLater {
		t.Fatal("only the current attempt's tasks start; stale ones are dropped, future ones wait")
	}
	if s.CanFail(1) || !s.CanFail(2) {
		t.Fatal("a late 401 of attempt 1 must not fail attempt 2")
	}
	if _, ok := job.New(id, false).Decide(job.Command{Action: job.ActionPause}); ok == nil {
		t.Fatal("an unknown job cannot be paused")
	}
	if job.New(id, false).CanStart(1) != job.StartNever {
		t.Fatal("tasks of an unknown job are dropped")
	}
}

func TestComplete(t *testing.T) {
	h := started(t, 3).add(docStarted(0, 1)).add(tagged(0, 1)).add(docStarted(1, 1)).add(failed(1, 1))
	if _, ok := h.state().Complete(); ok {
		t.Fatal("row 2 has no outcome yet")
	}
	h.add(docStarted(2, 1)).add(tagged(2, 1))
	ev, ok := h.state().Complete()
	if !ok || ev.(events.JobCompleted) != (events.JobCompleted{Processed: 2, Failed: 1}) {
		t.Fatalf("got %#v %v", ev, ok)
	}
	h.add(ev)
	if s := h.state(); s.Status != events.StatusCompleted {
		t.Fatalf("status %s", s.Status)
	} else if _, ok := s.Complete(); ok {
		t.Fatal("a completed job completes once")
	}

	all := started(t, 2).add(docStarted(0, 1)).add(failed(0, 1)).add(docStarted(1, 1)).add(failed(1, 1))
	ev, ok = all.state().Complete()
	if f, isFail := ev.(events.JobFailed); !ok || !isFail || f.Code != "all_failed" {
		t.Fatalf("every document failed: got %#v", ev)
	}
	if _, ok := job.New(id, false).Complete(); ok {
		t.Fatal("a state without documents cannot complete")
	}
}

func TestRetryPicksFailedAndOptionallyCancelledRows(t *testing.T) {
	h := started(t, 4).add(docStarted(0, 1)).add(tagged(0, 1)).add(docStarted(1, 1)).add(failed(1, 1)).
		add(docStarted(2, 1)).add(events.JobCancelled{})
	s := h.state()
	if s.Cancelled != 2 || s.Failed != 1 || s.Processed != 1 {
		t.Fatalf("counts p%d f%d c%d", s.Processed, s.Failed, s.Cancelled)
	}
	ev, err := s.Decide(job.Command{Action: job.ActionRetry})
	if err != nil || ev.(events.JobRetried).Attempt != 2 || len(ev.(events.JobRetried).Rows) != 1 {
		t.Fatalf("got %#v %v", ev, err)
	}
	ev, err = s.Decide(job.Command{Action: job.ActionRetry, IncludeCancelled: true})
	if err != nil || len(ev.(events.JobRetried).Rows) != 3 {
		t.Fatalf("got %#v %v", ev, err)
	}
	ok := started(t, 1).add(docStarted(0, 1)).add(tagged(0, 1)).add(events.JobCompleted{Processed: 1}).state()
	if _, err := ok.Decide(job.Command{Action: job.ActionRetry}); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("nothing to retry: %v", err)
	}
	live := started(t, 1).add(docStarted(0, 1)).state()
	if _, err := live.Decide(job.Command{Action: job.ActionRetry}); apperr.Code(err) != apperr.Conflict || !strings.Contains(err.Error(), "processing") {
		t.Fatalf("a live job is not retried: %v", err)
	}
}

// A cancelled job whose failures alone are retried still has cancelled
// documents when the retry ends: it stays cancelled, not completed.
func TestCancelledJobRetriedWithoutItsCancelledDocumentsStaysCancelled(t *testing.T) {
	h := started(t, 3).add(docStarted(0, 1)).add(tagged(0, 1)).add(docStarted(1, 1)).add(failed(1, 1)).
		add(events.JobCancelled{Reason: "stop"}).add(events.JobRetried{Attempt: 2, Rows: []int{1}}).
		add(docStarted(1, 2)).add(tagged(1, 2))
	ev, ok := h.state().Complete()
	if !ok || ev.(events.JobCompleted) != (events.JobCompleted{Processed: 2, Cancelled: 1}) {
		t.Fatalf("got %#v %v", ev, ok)
	}
	s := h.add(ev).state()
	if s.Status != events.StatusCancelled || s.Cancelled != 1 {
		t.Fatalf("status %s cancelled %d, want cancelled 1", s.Status, s.Cancelled)
	}
	// Retrying the cancelled ones too ends it completed.
	ev, err := s.Decide(job.Command{Action: job.ActionRetry, IncludeCancelled: true})
	if err != nil {
		t.Fatal(err)
	}
	h.add(ev).add(docStarted(2, 3)).add(tagged(2, 3))
	ev, _ = h.state().Complete()
	if s := h.add(ev).state(); s.Status != events.StatusCompleted || s.Processed != 3 {
		t.Fatalf("status %s processed %d", s.Status, s.Processed)
	}
}

func TestStaleAndDuplicateEventsChangeNothing(t *testing.T) {
	h := started(t, 2).add(docStarted(0, 1)).add(docStarted(1, 1)).add(failed(1, 1)).
		add(events.JobCancelled{}).add(events.JobRetried{Attempt: 2, Rows: []int{0, 1}, IncludeCancelled: true}).dup()
	s := h.state()
	if s.Attempt != 2 || s.Status != events.StatusPending || s.Failed+s.Cancelled+s.Processed != 0 {
		t.Fatalf("after retry: %s a%d p%d f%d c%d", s.Status, s.Attempt, s.Processed, s.Failed, s.Cancelled)
	}
	// Attempt 1's late outcomes arrive after the retry.
	h.add(tagged(0, 1)).add(failed(1, 1))
	s = h.state()
	if s.Processed+s.Failed != 0 || s.Status != events.StatusPending {
		t.Fatalf("stale outcomes counted: %s p%d f%d", s.Status, s.Processed, s.Failed)
	}
	// The first outcome of an attempt wins; a second, or a duplicate, does not.
	h.add(docStarted(0, 2)).add(failed(0, 2)).dup().add(tagged(0, 2))
	s = h.state()
	if s.Failed != 1 || s.Processed != 0 || s.Docs[0].Status != job.DocFailed {
		t.Fatalf("first outcome must win: p%d f%d %v", s.Processed, s.Failed, s.Docs[0])
	}
	h.add(docStarted(0, 2)) // a redelivered start after the outcome
	if s := h.state(); s.Docs[0].Status != job.DocFailed {
		t.Fatalf("a redelivered start reopened the document: %v", s.Docs[0])
	}
}

func TestLateOutcomeOfAnInFlightDocumentReplacesTheCancelMark(t *testing.T) {
	h := started(t, 2).add(docStarted(0, 1)).add(events.JobCancelled{})
	if s := h.state(); s.Cancelled != 2 {
		t.Fatalf("cancelled %d", s.Cancelled)
	}
	s := h.add(tagged(0, 1)).state()
	if s.Cancelled != 1 || s.Processed != 1 || s.Status != events.StatusCancelled {
		t.Fatalf("%s p%d c%d", s.Status, s.Processed, s.Cancelled)
	}
}

func TestEventsBeforeTheStartAreIgnored(t *testing.T) {
	h := &history{t: t}
	h.add(events.JobPaused{}).add(docStarted(0, 1))
	s := job.New(id, true)
	for _, env := range h.envs {
		if err := s.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	if s.Exists() || s.Status != "" {
		t.Fatalf("a job without JobStarted: %+v", s)
	}
}

func TestUnknownEventTypeIsAnError(t *testing.T) {
	env := events.Envelope{Type: "JobArchived", JobID: id, Seq: 1, Data: []byte(`{}`)}
	if err := job.New(id, false).Apply(env); err == nil {
		t.Fatal("an unknown event type must be reported, for the caller to skip and count")
	}
}

func TestApplyEventOfADecisionGivesTheNextStatus(t *testing.T) {
	for action, want := range map[string]string{job.ActionPause: events.StatusPaused, job.ActionCancel: events.StatusCancelled} {
		s := started(t, 1).add(docStarted(0, 1)).state()
		ev, err := s.Decide(job.Command{Action: action})
		if err != nil {
			t.Fatal(err)
		}
		s.ApplyEvent(events.Envelope{Type: ev.EventType()}, ev)
		if s.Status != want {
			t.Fatalf("%s: status %s, want %s", action, s.Status, want)
		}
	}
}

// A control event of a type a newer release added is left out of the
// fold, but moves the sequence commands append behind.
func TestUnreadableControlEventIsSkippedButMovesTheControlSequence(t *testing.T) {
	h := started(t, 1).add(docStarted(0, 1))
	s := job.New(id, true)
	for _, env := range h.envs {
		if err := s.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	foreign := events.Envelope{Type: "JobArchived", JobID: id, Seq: 3, Version: 1, Data: []byte(`{}`), Subject: events.ControlSubject(id)}
	if err := s.Apply(foreign); !errors.Is(err, job.ErrSkipped) {
		t.Fatalf("got %v", err)
	}
	if s.ControlSeq != 3 || s.Skipped != 1 || s.Status != events.StatusProcessing {
		t.Fatalf("control seq %d skipped %d status %s", s.ControlSeq, s.Skipped, s.Status)
	}
	if _, err := s.Decide(job.Command{Action: job.ActionPause}); err != nil {
		t.Fatal(err)
	}
}

func TestTaskStale(t *testing.T) {
	last := func(ev events.Event) events.Envelope {
		env, err := events.New(id, events.System, ev)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	cases := []struct {
		last    events.Envelope
		attempt int
		stale   bool
	}{
		{last(docStarted(0, 1)), 1, false}, // a worker died mid-document: redo it
		{last(tagged(0, 1)), 1, true},
		{last(failed(0, 1)), 1, true},
		{last(failed(0, 1)), 2, false}, // the retry of a failed document
		{last(docStarted(0, 2)), 1, true},
	}
	for i, c := range cases {
		if got := job.TaskStale(c.last, c.attempt); got != c.stale {
			t.Errorf("case %d: stale %v, want %v", i, got, c.stale)
		}
	}
}

// A job whose documents cannot reach the model stops after
// UnreachableLimit of them in a row: it fails when the model never tagged
// one of its documents, and pauses (with the reason, visible in the read
// model) when it did; a job already paused or over is left alone.
func TestDecideUnreachable(t *testing.T) {
	const reason = "cannot reach the model endpoint http://127.0.0.1:9: connection refused"
	fresh := started(t, 5).add(docStarted(0, 1)).add(docStarted(1, 1)).add(docStarted(2, 1))
	if _, ok := fresh.state().DecideUnreachable(1, job.UnreachableLimit-1, job.CodeModelUnreachable, reason); ok {
		t.Fatal("stopped below the limit")
	}
	ev, ok := fresh.state().DecideUnreachable(1, job.UnreachableLimit, job.CodeModelUnreachable, reason)
	if f, isFail := ev.(events.JobFailed); !ok || !isFail || f.Code != job.CodeModelUnreachable || f.Reason != reason {
		t.Fatalf("never worked: got %#v %v, want JobFailed model_unreachable", ev, ok)
	}
	// A provider that answers 429 until the deadlines is there, only
	// refusing: the job pauses (to be resumed), even if it never tagged.
	ev, ok = fresh.state().DecideUnreachable(1, job.UnreachableLimit, job.CodeModelRateLimited, "rate limited")
	if p, isPause := ev.(events.JobPaused); !ok || !isPause || p.Code != job.CodeModelRateLimited {
		t.Fatalf("rate limited from the start: got %#v %v, want JobPaused model_rate_limited", ev, ok)
	}
	// A document tagged without a model call (cached) does not prove the model works.
	cached := started(t, 5).add(docStarted(0, 1)).add(tagged(0, 1))
	if ev, _ := cached.state().DecideUnreachable(1, job.UnreachableLimit, job.CodeModelUnreachable, reason); ev == nil || ev.EventType() != events.TypeJobFailed {
		t.Fatalf("after a tag without a model call: %#v", ev)
	}

	worked := started(t, 5).add(docStarted(0, 1)).
		add(events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"t"}, Metadata: events.TagMetadata{Calls: 1}}).
		add(docStarted(1, 1))
	ev, ok = worked.state().DecideUnreachable(1, job.UnreachableLimit+2, job.CodeModelUnreachable, reason)
	p, isPause := ev.(events.JobPaused)
	if !ok || !isPause || p.Code != job.CodeModelUnreachable || p.Reason != reason {
		t.Fatalf("worked before: got %#v %v, want JobPaused", ev, ok)
	}
	if _, ok := worked.state().DecideUnreachable(2, job.UnreachableLimit, job.CodeModelUnreachable, reason); ok {
		t.Fatal("a stale attempt stopped the job")
	}
	worked.add(p)
	s := worked.state()
	if s.Status != events.StatusPaused || s.Failed != 0 || s.Reason != reason {
		t.Fatalf("after the pause: %s failed=%d reason=%q", s.Status, s.Failed, s.Reason)
	}
	if _, ok := s.DecideUnreachable(1, job.UnreachableLimit, job.CodeModelUnreachable, reason); ok {
		t.Fatal("paused twice")
	}
	model := projections.NewJobStatus()
	for _, env := range worked.envs {
		if err := model.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	if j, _, _ := model.Get(context.Background(), id); j.Reason != reason || j.ReasonCode != job.CodeModelUnreachable || j.Failed != 0 {
		t.Fatalf("read model: reason %q code %q failed %d", j.Reason, j.ReasonCode, j.Failed)
	}
	worked.add(events.JobResumed{})
	if s := worked.state(); s.Reason != "" || s.Status != events.StatusProcessing {
		t.Fatalf("after resume: %s %q", s.Status, s.Reason)
	}
}
