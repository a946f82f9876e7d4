package metrics

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func gather(t *testing.T, m *Metrics, name string) []*dto.Metric {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.Metric
		}
	}
	return nil
}

// A client choosing model names must not grow the series without end, and
// a code carrying free text must not become a label value.
func TestLabelsStayBounded(t *testing.T) {
	m := New()
	for i := 0; i < 100; i++ {
		m.ModelCall(fmt.Sprintf("vendor/model-%d", i), "ok", time.Millisecond)
		m.DocumentDone("failed", fmt.Sprintf("code_%d", i), time.Millisecond)
	}
	m.DocumentDone("failed", "could not open /home/ana/secret.pdf: no such file", time.Millisecond)
	m.ObserveRequest("", 404, time.Millisecond)

	if n := len(gather(t, m, "tagstream_llm_call_duration_seconds")); n != maxModels+1 {
		t.Errorf("%d model series, want %d + other", n, maxModels)
	}
	failed := gather(t, m, "tagstream_documents_failed_total")
	if len(failed) != maxCodes+1 {
		t.Errorf("%d code series, want %d + other", len(failed), maxCodes)
	}
	for _, s := range failed {
		code := s.Label[0].GetValue()
		if strings.Contains(code, "secret") {
			t.Errorf("free text reached a label: %q", code)
		}
		if code == Other && s.Counter.GetValue() != 100-maxCodes+1 {
			t.Errorf("other = %v, want the codes past the cap plus the free-text one", s.Counter.GetValue())
		}
	}
	reqs := gather(t, m, "tagstream_http_request_duration_seconds")
	if len(reqs) != 1 || reqs[0].Label[0].GetValue() != Other || reqs[0].Label[1].GetValue() != "4xx" {
		t.Errorf("unmatched route: %v", reqs)
	}
}

func TestStatusClass(t *testing.T) {
	for in, want := range map[int]string{200: "2xx", 204: "2xx", 301: "3xx", 404: "4xx", 503: "5xx", 0: Other, 999: Other} {
		if got := statusClass(in); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", in, got, want)
		}
	}
}

// Skipped event types come from the log, which a newer release (or anyone
// who can write to it) fills: the label keeps type names as written but
// stays bounded and refuses free text.
func TestSkippedEventsBounded(t *testing.T) {
	m := New()
	m.EventSkipped("projections", "JobArchived")
	m.EventSkipped("projections", "JobArchived")
	for i := 0; i < 50; i++ {
		m.EventSkipped("dispatcher", fmt.Sprintf("Invented%d", i))
	}
	m.EventSkipped("observers", "has spaces: /home/ana")
	series := gather(t, m, "tagstream_events_skipped_total")
	if len(series) > maxTypes+3 { // types past the cap are "other", per reader
		t.Fatalf("%d skipped series, want at most %d", len(series), maxTypes+3)
	}
	found := false
	for _, s := range series {
		reader, typ := s.Label[0].GetValue(), s.Label[1].GetValue()
		if strings.Contains(typ, " ") || strings.Contains(typ, "home") {
			t.Errorf("free text reached a label: %q", typ)
		}
		if reader == "projections" && typ == "JobArchived" {
			found = s.Counter.GetValue() == 2
		}
	}
	if !found {
		t.Errorf("no projections/JobArchived series counting 2: %v", series)
	}
}

// Each projection's state (one series per state, 1 for the current),
// checkpoint and lag against the log's end are exported.
func TestProjectionSeries(t *testing.T) {
	m := New()
	m.Watch(State{
		LogLastSeq: func(context.Context) (uint64, error) { return 50, nil },
		Projections: func(_ context.Context, last uint64) []Projection {
			return []Projection{{Name: "job-status", State: "failed", Seq: 40, LagEvents: last - 40, LagSeconds: 3}}
		},
	})
	states := map[string]float64{}
	for _, s := range gather(t, m, "tagstream_projection_state") {
		states[s.Label[1].GetValue()] = s.Gauge.GetValue()
	}
	if states["failed"] != 1 || states["running"] != 0 || len(states) != 3 {
		t.Fatalf("states %v", states)
	}
	if s := gather(t, m, "tagstream_projection_lag_events"); len(s) != 1 || s[0].Gauge.GetValue() != 10 {
		t.Fatalf("lag %v", s)
	}
	if s := gather(t, m, "tagstream_projection_checkpoint_sequence"); len(s) != 1 || s[0].Gauge.GetValue() != 40 {
		t.Fatalf("checkpoint %v", s)
	}
	if s := gather(t, m, "tagstream_projection_lag_seconds"); len(s) != 1 || s[0].Gauge.GetValue() != 3 {
		t.Fatalf("lag seconds %v", s)
	}
}
