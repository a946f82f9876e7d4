package projections_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// Job status sums calls, tokens, cost and cache hits of every outcome;
// analytics sums them per model and day; both ignore an event seen twice.
func TestUsageInStatusAndAnalytics(t *testing.T) {
	yes, no := true, false
	l := &logb{t: t}
	l.add(events.JobStarted{InputID: "in", Total: 4, Config: events.JobConfig{Model: "m"}}).
		add(events.DocumentStarted{Row: 0, Attempt: 1}).
		add(events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"a"}, Metadata: events.TagMetadata{Model: "m",
			Calls: 2, PromptTokens: 1000, CompletionTokens: 100, CostUSD: 0.25, CostKnown: &yes}}).
		add(events.DocumentStarted{Row: 1, Attempt: 1}).
		add(events.DocumentFailed{Row: 1, Attempt: 1, Error: "bad", Code: "llm_malformed", Metadata: events.TagMetadata{Model: "m",
			Calls: 1, PromptTokens: 500, CompletionTokens: 10, CostUSD: 0.5, CostKnown: &yes}}).
		add(events.DocumentStarted{Row: 2, Attempt: 1}).
		add(events.DocumentTagged{Row: 2, Attempt: 1, Tags: []string{"a"}, Metadata: events.TagMetadata{Model: "m", CachedFrom: 3}}).
		add(events.DocumentStarted{Row: 3, Attempt: 1}).
		add(events.DocumentTagged{Row: 3, Attempt: 1, Tags: []string{"b"}, Metadata: events.TagMetadata{Model: "x/unpriced",
			Calls: 1, PromptTokens: 7, CompletionTokens: 3, CostKnown: &no}})
	day := l.envs[2].Time.UTC().Format(time.DateOnly)
	jobs := projections.NewJobStatus()
	an := projections.NewAnalytics()
	for _, env := range append(l.envs, l.envs...) { // every event twice
		if err := jobs.Apply(env); err != nil {
			t.Fatal(err)
		}
		if err := an.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	j, _, _ := jobs.Get(context.Background(), jobID)
	u := j.Usage
	if u.ModelCalls != 4 || u.PromptTokens != 1507 || u.CompletionTokens != 113 || math.Abs(u.CostUSD-0.75) > 1e-9 || u.Cached != 1 || u.Unpriced != 1 {
		t.Fatalf("usage %+v", u)
	}
	s := an.Summary("", 10)
	if len(s.UsagePerModelDay) != 2 {
		t.Fatalf("per model and day: %+v", s.UsagePerModelDay)
	}
	m := s.UsagePerModelDay[0]
	if m.Date != day || m.Model != "m" || m.Documents != 3 || m.ModelCalls != 3 || math.Abs(m.CostUSD-0.75) > 1e-9 || m.Cached != 1 || m.PromptTokens != 1500 {
		t.Fatalf("model m: %+v", m)
	}
	if x := s.UsagePerModelDay[1]; x.Model != "x/unpriced" || x.CostUSD != 0 || x.ModelCalls != 1 {
		t.Fatalf("unpriced model: %+v", x)
	}
	if s.Models[0].Model != "m" || math.Abs(s.Models[0].CostUSD-0.75) > 1e-9 || s.Models[0].ModelCalls != 3 {
		t.Fatalf("models: %+v", s.Models)
	}
}
