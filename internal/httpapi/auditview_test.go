package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
)

func TestAuditViewShowsACallbackURLsSchemeAndHostOnly(t *testing.T) {
	for _, tc := range []struct{ stored, shown string }{
		{"https://hooks.example.org/tagstream?token=abc", "https://hooks.example.org/…"},
		{"https://hooks.slack.com/services/T0/B0/XXXX", "https://hooks.slack.com/…"},
		{"https://user:pass@hooks.example.org:8443", "https://hooks.example.org:8443/…"},
		{"https://hooks.example.org/", "https://hooks.example.org"},
		{"https://hooks.example.org", "https://hooks.example.org"},
	} {
		for _, ev := range []events.Event{
			events.JobStarted{Total: 1, Config: events.JobConfig{Model: "m", CallbackURL: tc.stored}},
			events.JobRetried{Attempt: 2, Rows: []int{0}, Config: events.JobConfig{Model: "m", CallbackURL: tc.stored}},
		} {
			env, err := events.New("j", events.Actor{Kind: "user", ID: "u"}, ev)
			if err != nil {
				t.Fatal(err)
			}
			env.Time = time.Now()
			var got struct {
				Config struct {
					Model       string `json:"model_name"`
					CallbackURL string `json:"callback_url"`
				} `json:"config"`
			}
			if err := json.Unmarshal(newAuditEvent(env).Data, &got); err != nil {
				t.Fatal(err)
			}
			if got.Config.CallbackURL != tc.shown || got.Config.Model != "m" {
				t.Errorf("%s %s: shown %+v, want callback_url %s", env.Type, tc.stored, got.Config, tc.shown)
			}
		}
	}
	// Other events are shown exactly as stored.
	env, _ := events.New("j", events.Actor{Kind: "user", ID: "u"}, events.JobPaused{Reason: "budget"})
	if got := newAuditEvent(env).Data; string(got) != string(env.Data) {
		t.Errorf("rewritten: %s -> %s", env.Data, got)
	}
}

// A start's request digest (an unkeyed hash of its documents) and its
// input id (the digest's first half) are not shown: a reader could confirm a guess at titles and paths with it, even
// after the job's erasure.
func TestAuditViewLeavesOutTheRequestDigest(t *testing.T) {
	env, _ := events.New("j", events.Actor{Kind: "user", ID: "u"}, events.JobStarted{Total: 3, RequestDigest: "abc123", InputID: "in"})
	var got map[string]any
	if err := json.Unmarshal(newAuditEvent(env).Data, &got); err != nil {
		t.Fatal(err)
	}
	_, digest := got["request_digest"]
	_, input := got["input_id"]
	if digest || input || got["total_documents"] != 3.0 {
		t.Fatalf("shown: %v", got)
	}
}
