// Package storetest is the conformance suite every events.Store must pass.
package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
)

// Run checks the Store contract against stores made by open; each subtest
// gets a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) events.Store) {
	t.Run("AppendAndReadInOrder", func(t *testing.T) { appendAndRead(t, open(t)) })
	t.Run("ExpectedSequenceGuardsSubject", func(t *testing.T) { expectGuards(t, open(t)) })
	t.Run("ExpectOnAnotherSubject", func(t *testing.T) { expectOtherSubject(t, open(t)) })
	t.Run("RetriedAppendIsIdempotent", func(t *testing.T) { idempotent(t, open(t)) })
	t.Run("RacingAppendsOneWins", func(t *testing.T) { racing(t, open(t)) })
	t.Run("LastAndNotFound", func(t *testing.T) { lastAndNotFound(t, open(t)) })
	t.Run("FollowSeesLiveEvents", func(t *testing.T) { follow(t, open(t)) })
	t.Run("ExpectOnWildcardSubject", func(t *testing.T) { expectWildcard(t, open(t)) })
	t.Run("ReadFilters", func(t *testing.T) { readFilters(t, open(t)) })
	t.Run("ReadStopsAtEndWhenBegun", func(t *testing.T) { readEnd(t, open(t)) })
	t.Run("FollowFromLaterSequence", func(t *testing.T) { followFrom(t, open(t)) })
	t.Run("ReadFnErrorStops", func(t *testing.T) { readFnError(t, open(t)) })
	t.Run("JobReadsPassOverOrgEvents", func(t *testing.T) { jobReadsPassOverOrgs(t, open(t)) })
}

func mustNew(t *testing.T, job string, ev events.Event) events.Envelope {
	t.Helper()
	env, err := events.New(job, events.User("u1", "u1@example.com"), ev)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func readAll(t *testing.T, s events.Store, filter string, from uint64) []events.Envelope {
	t.Helper()
	var got []events.Envelope
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Read(ctx, filter, from, func(e events.Envelope) error { got = append(got, e); return nil }); err != nil {
		t.Fatalf("read %s: %v", filter, err)
	}
	return got
}

func appendAndRead(t *testing.T, s events.Store) {
	ctx := context.Background()
	var seqs []uint64
	for i, ev := range []events.Event{
		events.JobStarted{Total: 2}, events.DocumentStarted{Row: 0, Attempt: 1},
		events.JobPaused{Reason: "lunch"}, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"a"}},
	} {
		seq, err := s.Append(ctx, mustNew(t, "job-a", ev), nil)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		seqs = append(seqs, seq)
	}
	if _, err := s.Append(ctx, mustNew(t, "job-b", events.JobStarted{}), nil); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, s, events.JobSubjects("job-a"), 1)
	if len(got) != 4 {
		t.Fatalf("job-a history has %d events, want 4", len(got))
	}
	for i, e := range got {
		if e.Seq != seqs[i] || e.JobID != "job-a" {
			t.Errorf("event %d: seq %d job %s, want seq %d job job-a", i, e.Seq, e.JobID, seqs[i])
		}
	}
	if got[2].Type != events.TypeJobPaused || got[3].Subject != events.DocSubject("job-a", 0) {
		t.Errorf("unexpected order or subjects: %s %s", got[2].Type, got[3].Subject)
	}
	ev, err := got[2].Decode()
	if err != nil || ev.(*events.JobPaused).Reason != "lunch" {
		t.Errorf("decode JobPaused: %v %+v", err, ev)
	}
	if tail := readAll(t, s, events.JobSubjects("job-a"), seqs[2]); len(tail) != 2 {
		t.Errorf("read from seq %d gave %d events, want 2", seqs[2], len(tail))
	}
	if none := readAll(t, s, events.JobSubjects("nope"), 1); len(none) != 0 {
		t.Errorf("unknown job has %d events", len(none))
	}
}

func expectGuards(t *testing.T, s events.Store) {
	ctx := context.Background()
	ctl := events.ControlSubject("j")
	seq, err := s.Append(ctx, mustNew(t, "j", events.JobStarted{}), &events.Expect{Subject: ctl, Seq: 0})
	if err != nil {
		t.Fatalf("first append with expect 0: %v", err)
	}
	if _, err := s.Append(ctx, mustNew(t, "j", events.JobStarted{}), &events.Expect{Subject: ctl, Seq: 0}); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("second start expecting empty subject: got %v, want ErrConflict", err)
	}
	if _, err := s.Append(ctx, mustNew(t, "j", events.JobPaused{}), &events.Expect{Subject: ctl, Seq: seq}); err != nil {
		t.Fatalf("append with right expectation: %v", err)
	}
	if _, err := s.Append(ctx, mustNew(t, "j", events.JobResumed{}), &events.Expect{Subject: ctl, Seq: seq}); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("append with stale expectation: got %v, want ErrConflict", err)
	}
	// Events of other jobs do not disturb this job's expectation.
	last, _ := s.Last(ctx, ctl)
	if _, err := s.Append(ctx, mustNew(t, "k", events.JobStarted{}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, mustNew(t, "j", events.JobResumed{}), &events.Expect{Subject: ctl, Seq: last.Seq}); err != nil {
		t.Fatalf("other job's event broke the expectation: %v", err)
	}
}

func expectOtherSubject(t *testing.T, s events.Store) {
	ctx := context.Background()
	ctl := events.ControlSubject("j")
	seq, _ := s.Append(ctx, mustNew(t, "j", events.JobStarted{}), nil)
	// A document event may be guarded by the control subject: it must fail
	// once a pause lands in between.
	if _, err := s.Append(ctx, mustNew(t, "j", events.DocumentStarted{Row: 1, Attempt: 1}), &events.Expect{Subject: ctl, Seq: seq}); err != nil {
		t.Fatalf("guarded document start: %v", err)
	}
	if _, err := s.Append(ctx, mustNew(t, "j", events.JobPaused{}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, mustNew(t, "j", events.DocumentStarted{Row: 2, Attempt: 1}), &events.Expect{Subject: ctl, Seq: seq}); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("document start after pause: got %v, want ErrConflict", err)
	}
	if got := readAll(t, s, events.DocSubject("j", 2), 1); len(got) != 0 {
		t.Fatalf("refused append was stored: %d events", len(got))
	}
}

func idempotent(t *testing.T, s events.Store) {
	ctx := context.Background()
	ctl := events.ControlSubject("j")
	env := mustNew(t, "j", events.JobStarted{})
	seq1, err := s.Append(ctx, env, &events.Expect{Subject: ctl, Seq: 0})
	if err != nil {
		t.Fatal(err)
	}
	seq2, err := s.Append(ctx, env, &events.Expect{Subject: ctl, Seq: 0})
	if err != nil || seq2 != seq1 {
		t.Fatalf("retried guarded append: seq %d err %v, want seq %d and no error", seq2, err, seq1)
	}
	doc := mustNew(t, "j", events.DocumentTagged{Row: 3})
	a, _ := s.Append(ctx, doc, nil)
	b, err := s.Append(ctx, doc, nil)
	if err != nil || a != b {
		t.Fatalf("retried plain append: %d vs %d, %v", a, b, err)
	}
	if got := readAll(t, s, events.JobSubjects("j"), 1); len(got) != 2 {
		t.Fatalf("history has %d events after retries, want 2", len(got))
	}
}

func racing(t *testing.T, s events.Store) {
	ctx := context.Background()
	ctl := events.ControlSubject("r")
	seq, _ := s.Append(ctx, mustNew(t, "r", events.JobStarted{}), nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Append(ctx, mustNew(t, "r", events.JobPaused{}), &events.Expect{Subject: ctl, Seq: seq}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, events.ErrConflict) {
				t.Errorf("racing append: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d racing appends won, want exactly 1", wins)
	}
}

func lastAndNotFound(t *testing.T, s events.Store) {
	ctx := context.Background()
	if _, err := s.Last(ctx, events.ControlSubject("ghost")); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("Last on empty subject: %v, want ErrNotFound", err)
	}
	_, _ = s.Append(ctx, mustNew(t, "l", events.JobStarted{}), nil)
	seq, _ := s.Append(ctx, mustNew(t, "l", events.JobCancelled{Reason: "x"}), nil)
	last, err := s.Last(ctx, events.ControlSubject("l"))
	if err != nil || last.Seq != seq || last.Type != events.TypeJobCancelled {
		t.Fatalf("Last: %+v %v", last, err)
	}
	if ls, err := s.LastSeq(ctx); err != nil || ls != seq {
		t.Fatalf("LastSeq = %d, %v; want %d", ls, err, seq)
	}
}

func follow(t *testing.T, s events.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = s.Append(ctx, mustNew(t, "f", events.JobStarted{}), nil)
	got := make(chan events.Envelope, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.Follow(ctx, events.SubjectAll, 1, func(e events.Envelope) error { got <- e; return nil })
	}()
	<-got
	_, _ = s.Append(ctx, mustNew(t, "f", events.JobPaused{}), nil)
	select {
	case e := <-got:
		if e.Type != events.TypeJobPaused {
			t.Fatalf("followed %s, want JobPaused", e.Type)
		}
	case <-ctx.Done():
		t.Fatal("live event never arrived")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow after cancel: %v", err)
	}
}

// A command may guard an append with the last sequence of a whole job
// (jobs.<id>.>): any event of that job in between is a conflict, events of
// other jobs are not.
func expectWildcard(t *testing.T, s events.Store) {
	ctx := context.Background()
	all := events.JobSubjects("w")
	if _, err := s.Append(ctx, mustNew(t, "w", events.JobStarted{}), &events.Expect{Subject: all, Seq: 0}); err != nil {
		t.Fatalf("first append expecting an empty job: %v", err)
	}
	if _, err := s.Append(ctx, mustNew(t, "w", events.JobStarted{}), &events.Expect{Subject: all, Seq: 0}); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("second append expecting an empty job: %v, want ErrConflict", err)
	}
	doc, err := s.Append(ctx, mustNew(t, "w", events.DocumentStarted{Row: 4, Attempt: 1}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, mustNew(t, "other", events.JobStarted{}), nil); err != nil {
		t.Fatal(err)
	}
	if last, err := s.Last(ctx, all); err != nil || last.Seq != doc {
		t.Fatalf("Last on %s: %d %v, want %d", all, last.Seq, err, doc)
	}
	seq, err := s.Append(ctx, mustNew(t, "w", events.JobPaused{}), &events.Expect{Subject: all, Seq: doc})
	if err != nil {
		t.Fatalf("append expecting the job's last event (another job wrote since): %v", err)
	}
	if _, err := s.Append(ctx, mustNew(t, "w", events.DocumentTagged{Row: 4, Attempt: 1}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, mustNew(t, "w", events.JobResumed{}), &events.Expect{Subject: all, Seq: seq}); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("a document event landed in between: %v, want ErrConflict", err)
	}
}

func readFilters(t *testing.T, s events.Store) {
	ctx := context.Background()
	for _, e := range []struct {
		job string
		ev  events.Event
	}{
		{"a", events.DocumentsSubmitted{InputID: "i"}}, {"a", events.JobStarted{InputID: "i"}},
		{"b", events.JobStarted{}}, {"a", events.DocumentStarted{Row: 1, Attempt: 1}},
		{"a", events.DocumentTagged{Row: 1, Attempt: 1}}, {"b", events.JobCancelled{}},
		{"a", events.DocumentStarted{Row: 2, Attempt: 1}},
	} {
		if _, err := s.Append(ctx, mustNew(t, e.job, e.ev), nil); err != nil {
			t.Fatal(err)
		}
	}
	types := func(filter string, from uint64) string { return jobTypes(readAll(t, s, filter, from)) }
	for _, c := range []struct {
		filter string
		from   uint64
		want   string
	}{
		{events.SubjectAllControl, 1, "a:JobStarted b:JobStarted b:JobCancelled"},
		{events.ControlSubject("b"), 1, "b:JobStarted b:JobCancelled"},
		{events.InputSubject("a"), 1, "a:DocumentsSubmitted"},
		{events.DocSubject("a", 1), 1, "a:DocumentStarted a:DocumentTagged"},
		{"jobs.a.doc.*", 5, "a:DocumentTagged a:DocumentStarted"},
		{events.SubjectAll, 7, "a:DocumentStarted"},
		{events.SubjectAll, 8, ""},
		{events.JobSubjects("b"), 4, "b:JobCancelled"},
	} {
		if got := types(c.filter, c.from); got != c.want {
			t.Errorf("Read(%s, from %d) = %q, want %q", c.filter, c.from, got, c.want)
		}
	}
}

// Read ends at the log as it was when Read began, even if fn appends.
func readEnd(t *testing.T, s events.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		if _, err := s.Append(ctx, mustNew(t, "e", events.DocumentStarted{Row: i, Attempt: 1}), nil); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err := s.Read(ctx, events.SubjectAll, 1, func(events.Envelope) error {
		n++
		_, err := s.Append(ctx, mustNew(t, "e", events.JobPaused{}), nil)
		return err
	})
	if err != nil || n != 3 {
		t.Fatalf("read saw %d events (%v), want the 3 present when it began", n, err)
	}
	if ls, _ := s.LastSeq(ctx); ls != 6 {
		t.Fatalf("LastSeq %d, want 6", ls)
	}
}

func followFrom(t *testing.T, s events.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		_, _ = s.Append(ctx, mustNew(t, "f", events.DocumentStarted{Row: i, Attempt: 1}), nil)
	}
	got := make(chan events.Envelope, 10)
	go func() {
		_ = s.Follow(ctx, events.DocSubject("f", 2), 3, func(e events.Envelope) error { got <- e; return nil })
	}()
	if e := <-got; e.Seq != 3 {
		t.Fatalf("first followed seq %d, want 3", e.Seq)
	}
	_, _ = s.Append(ctx, mustNew(t, "f", events.DocumentStarted{Row: 1, Attempt: 2}), nil)
	_, _ = s.Append(ctx, mustNew(t, "f", events.DocumentTagged{Row: 2, Attempt: 1}), nil)
	select {
	case e := <-got:
		if e.Type != events.TypeDocumentTagged || e.Seq != 5 {
			t.Fatalf("followed %s at %d, want DocumentTagged at 5 (row 1 is filtered out)", e.Type, e.Seq)
		}
	case <-ctx.Done():
		t.Fatal("live event never arrived")
	}
}

func readFnError(t *testing.T, s events.Store) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, _ = s.Append(ctx, mustNew(t, "x", events.DocumentStarted{Row: i, Attempt: 1}), nil)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.Read(ctx, events.SubjectAll, 1, func(events.Envelope) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Read after fn failed: %v after %d calls, want fn's error after 1", err, n)
	}
}

// A read or follow of every job's events (what projections and dispatch
// do) meets no organisation event, even between and after job events.
func jobReadsPassOverOrgs(t *testing.T, s events.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ls, err := s.LastSeq(ctx); err != nil || ls != 0 {
		t.Fatalf("LastSeq of an empty log = %d, %v", ls, err)
	}
	var lastJob uint64
	for _, env := range []events.Envelope{
		mustNew(t, "org_a", events.OrgCreated{Name: "A"}), mustNew(t, "a", events.JobStarted{Total: 1}),
		mustNew(t, "org_a", events.OrgMemberAdded{Email: "x@example.com", Role: "member"}),
		mustNew(t, "a", events.JobCompleted{Processed: 1}), mustNew(t, "org_b", events.OrgCreated{Name: "B"}),
	} {
		seq, err := s.Append(ctx, env, nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(env.Subject, "jobs.") {
			lastJob = seq
		}
	}
	// LastSeq is the newest job event's: what a job reader can reach (an
	// organisation's event last kept readiness waiting for ever).
	if ls, err := s.LastSeq(ctx); err != nil || ls != lastJob {
		t.Fatalf("LastSeq = %d, %v; want the last job event's %d", ls, err, lastJob)
	}
	if got, want := jobTypes(readAll(t, s, events.SubjectAll, 1)), "a:JobStarted a:JobCompleted"; got != want {
		t.Errorf("Read(%s) = %q, want %q", events.SubjectAll, got, want)
	}
	if got, want := jobTypes(readAll(t, s, events.SubjectAllOrgs, 1)), "org_a:OrgCreated org_a:OrgMemberAdded org_b:OrgCreated"; got != want {
		t.Errorf("Read(%s) = %q, want %q", events.SubjectAllOrgs, got, want)
	}
	var followed []events.Envelope
	err := s.Follow(ctx, events.SubjectAll, 1, func(e events.Envelope) error {
		followed = append(followed, e)
		if e.Type == events.TypeJobCompleted {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("follow: %v", err)
	}
	if got, want := jobTypes(followed), "a:JobStarted a:JobCompleted"; got != want {
		t.Errorf("Follow(%s) = %q, want %q", events.SubjectAll, got, want)
	}
}

var errStop = errors.New("stop")

// jobTypes is "job:Type" of each event, space-separated.
func jobTypes(envs []events.Envelope) string {
	var out []string
	for _, e := range envs {
		out = append(out, e.JobID+":"+e.Type)
	}
	return strings.Join(out, " ")
}
