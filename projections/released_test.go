package projections_test

import (
	"context"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// A document its worker gave back (DocumentReleased) reads pending again
// in the results and does not end the job; its next start and outcome
// are counted as usual.
func TestReleasedDocumentReadsPendingUntilItsOutcome(t *testing.T) {
	l := (&logb{t: t}).add(events.DocumentsSubmitted{InputID: "in", Documents: []events.Document{{Row: 0, FilePath: "a.pdf"}}}).
		add(events.JobStarted{InputID: "in", Total: 1, Config: events.JobConfig{Model: "m"}}).
		add(events.DocumentStarted{Row: 0, Attempt: 1}).
		add(events.DocumentReleased{Row: 0, Attempt: 1, Reason: "model unreachable", Code: "model_unreachable"})
	res, jobs := projections.NewDocumentResults(), projections.NewJobStatus()
	for _, env := range l.envs {
		for _, p := range []projections.Projection{res, jobs} {
			if err := p.Apply(env); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r, _ := res.Rows(context.Background(), jobID, []int{0}); len(r) != 1 || r[0].Status != "pending" {
		t.Fatalf("released row: %+v", r)
	}
	if j, _, _ := jobs.Get(context.Background(), jobID); j.Processed+j.Failed != 0 || events.Terminal(j.Status) {
		t.Fatalf("job after a release: %+v", j)
	}
	l.add(events.DocumentStarted{Row: 0, Attempt: 1}).add(events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"x"}})
	for _, env := range l.envs[4:] {
		for _, p := range []projections.Projection{res, jobs} {
			if err := p.Apply(env); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r, _ := res.Rows(context.Background(), jobID, []int{0}); r[0].Status != "success" {
		t.Fatalf("row after its outcome: %+v", r[0])
	}
	if j, _, _ := jobs.Get(context.Background(), jobID); j.Processed != 1 {
		t.Fatalf("job after the outcome: %+v", j)
	}
}
