package projections_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

const jobID = "job-1"

type logb struct {
	t    *testing.T
	envs []events.Envelope
}

func (l *logb) add(ev events.Event) *logb {
	env, err := events.New(jobID, events.User("u1", "u1@example.com"), ev)
	if err != nil {
		l.t.Fatal(err)
	}
	env.Seq = uint64(len(l.envs) + 1)
	l.envs = append(l.envs, env)
	return l
}

// story is a job whose document 1 fails, is cancelled with document 2
// in flight, retried, and whose attempt-1 outcome of document 2 arrives
// late; document 0 gets two outcomes of one attempt (first wins).
func story(t *testing.T) *logb {
	l := &logb{t: t}
	return l.add(events.DocumentsSubmitted{InputID: "in", Documents: []events.Document{{Row: 0, FilePath: "a.pdf"}, {Row: 1, FilePath: "b.pdf"}, {Row: 2, FilePath: "c.pdf"}}}).
		add(events.JobStarted{InputID: "in", Total: 3, Config: events.JobConfig{Model: "m"}}).
		add(events.DocumentStarted{Row: 0, Attempt: 1}).
		add(events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"first"}, Metadata: events.TagMetadata{Model: "m", DurationMS: 5}}).
		add(events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"second"}, Metadata: events.TagMetadata{Model: "m", DurationMS: 5}}).
		add(events.DocumentStarted{Row: 1, Attempt: 1}).
		add(events.DocumentFailed{Row: 1, Attempt: 1, Error: "boom", Code: "fetch"}).
		add(events.DocumentStarted{Row: 2, Attempt: 1}).
		add(events.JobCancelled{Reason: "stop"}).
		add(events.JobRetried{Attempt: 2, Rows: []int{1}}).
		add(events.DocumentFailed{Row: 2, Attempt: 1, Error: "late", Code: "late"}).
		add(events.DocumentStarted{Row: 1, Attempt: 2}).
		add(events.DocumentTagged{Row: 1, Attempt: 2, Tags: []string{"retried"}, Metadata: events.TagMetadata{Model: "m"}}).
		add(events.JobCompleted{Processed: 2, Failed: 1, Cancelled: 0})
}

func apply(t *testing.T, p projections.Projection, envs []events.Envelope, times int) []byte {
	t.Helper()
	for _, env := range envs {
		for i := 0; i < times; i++ {
			if err := p.Apply(env); err != nil {
				t.Fatal(err)
			}
		}
	}
	snap, err := p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// Every model: each event applied twice, or the whole log replayed after
// itself, gives the state of applying it once.
func TestModelsIgnoreEventsSeenTwice(t *testing.T) {
	envs := story(t).envs
	for _, mk := range []func() projections.Projection{
		func() projections.Projection { return projections.NewJobStatus() },
		func() projections.Projection { return projections.NewDocumentResults() },
		func() projections.Projection { return projections.NewAnalytics() },
	} {
		once := apply(t, mk(), envs, 1)
		twice := apply(t, mk(), envs, 2)
		replayed := mk()
		apply(t, replayed, envs, 1)
		again := apply(t, replayed, envs, 1)
		name := mk().Name()
		if !bytes.Equal(once, twice) {
			t.Errorf("%s: each event twice changed the model:\n%s\n%s", name, once, twice)
		}
		if !bytes.Equal(once, again) {
			t.Errorf("%s: replaying the log changed the model:\n%s\n%s", name, once, again)
		}
	}
}

func TestJobStatusCountsFirstOutcomesOfTheCurrentAttempt(t *testing.T) {
	m := projections.NewJobStatus()
	apply(t, m, story(t).envs, 1)
	j, _, _ := m.Get(context.Background(), jobID)
	// Row 0 success (first outcome), row 1 success in attempt 2, row 2's
	// late attempt-1 failure replaces its cancel mark.
	if j.Processed != 2 || j.Failed != 1 || j.Cancelled != 0 || j.Attempt != 2 || j.Status != events.StatusCompleted {
		t.Fatalf("got %+v", j)
	}
}

func TestDocumentResultsKeepTheFirstOutcome(t *testing.T) {
	m := projections.NewDocumentResults()
	apply(t, m, story(t).envs, 2)
	rows, _ := m.Rows(context.Background(), jobID, []int{0, 1, 2})
	if rows[0].Status != projections.DocSuccess || rows[0].Tags[0] != "first" {
		t.Fatalf("row 0: %+v", rows[0])
	}
	if rows[1].Status != projections.DocSuccess || rows[1].Attempts != 2 || rows[1].Tags[0] != "retried" {
		t.Fatalf("row 1: %+v", rows[1])
	}
	if rows[2].Status != projections.DocFailed || rows[2].Error != "late" {
		t.Fatalf("row 2: %+v", rows[2])
	}
}

func TestAnalyticsCountsEachDocumentAttemptOnce(t *testing.T) {
	m := projections.NewAnalytics()
	apply(t, m, story(t).envs, 2)
	s := m.Summary("", 10)
	// Outcomes: row 0 attempt 1 (first of two), row 1 attempts 1 and 2,
	// row 2 attempt 1.
	if s.Documents != 4 || len(s.DocumentsPerDay) != 1 || s.DocumentsPerDay[0].Success != 2 || s.DocumentsPerDay[0].Failed != 2 {
		t.Fatalf("got %+v", s)
	}
	for _, tag := range s.TopTags {
		if tag.Value == "second" || tag.Count != 1 {
			t.Fatalf("tags counted twice or from a second outcome: %+v", s.TopTags)
		}
	}
}

// A cancelled job whose failures alone were retried ends with cancelled
// documents: it reads as cancelled in status and history, not completed.
func TestCancelledJobRetriedReadsCancelled(t *testing.T) {
	l := &logb{t: t}
	l.add(events.JobStarted{InputID: "in", Total: 3}).
		add(events.DocumentStarted{Row: 0, Attempt: 1}).add(events.DocumentFailed{Row: 0, Attempt: 1, Error: "x"}).
		add(events.JobCancelled{Reason: "stop"}).
		add(events.JobRetried{Attempt: 2, Rows: []int{0}}).
		add(events.DocumentStarted{Row: 0, Attempt: 2}).add(events.DocumentTagged{Row: 0, Attempt: 2, Tags: []string{"t"}}).
		add(events.JobCompleted{Processed: 1, Cancelled: 2})
	m := projections.NewJobStatus()
	apply(t, m, l.envs, 1)
	j, _, _ := m.Get(context.Background(), jobID)
	if j.Status != events.StatusCancelled || j.Cancelled != 2 || j.Processed != 1 || j.FinishedAt == nil {
		t.Fatalf("got %+v", j)
	}
	if n := len(must(m.List(context.Background(), projections.Filter{Status: []string{events.StatusCompleted}}))); n != 0 {
		t.Fatalf("history lists it as completed (%d)", n)
	}
}

func TestDocumentStartOfAnOldAttemptDoesNotMakeARetriedJobProcessing(t *testing.T) {
	l := &logb{t: t}
	l.add(events.JobStarted{InputID: "in", Total: 1}).
		add(events.DocumentStarted{Row: 0, Attempt: 1}).add(events.JobCancelled{}).
		add(events.JobRetried{Attempt: 2, Rows: []int{0}, IncludeCancelled: true}).
		add(events.DocumentStarted{Row: 0, Attempt: 1})
	m := projections.NewJobStatus()
	apply(t, m, l.envs, 1)
	if j, _, _ := m.Get(context.Background(), jobID); j.Status != events.StatusPending {
		t.Fatalf("status %s", j.Status)
	}
	l.add(events.DocumentStarted{Row: 0, Attempt: 2})
	m = projections.NewJobStatus()
	apply(t, m, l.envs, 1)
	if j, _, _ := m.Get(context.Background(), jobID); j.Status != events.StatusProcessing {
		t.Fatalf("status %s", j.Status)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
