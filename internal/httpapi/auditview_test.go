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
	// Events without a callback are shown exactly as stored.
	env, _ := events.New("j", events.Actor{Kind: "user", ID: "u"}, events.JobStarted{Total: 1, Config: events.JobConfig{Model: "m"}})
	if got := newAuditEvent(env).Data; string(got) != string(env.Data) {
		t.Errorf("rewritten without a callback: %s -> %s", env.Data, got)
	}
}
