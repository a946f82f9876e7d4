package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tagstream/tagstream/projections"
)

// The read-model check cannot be made to fail in a real process (serve
// catches up before it listens), so it is driven here: 503 naming
// read_models while behind the startup target, 200 once there, and both
// checks named when NATS is down too.
func TestReadyNamesFailedChecks(t *testing.T) {
	var applied atomic.Uint64
	var up atomic.Bool
	up.Store(true)
	h := New(Deps{Log: slog.New(slog.DiscardHandler), Healthy: up.Load,
		CaughtUp: func() (uint64, uint64) { return applied.Load(), 10 }})
	get := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/ready", nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		return rec.Code, body
	}
	failed := func(body map[string]any) []any { f, _ := body["failed"].([]any); return f }

	applied.Store(9)
	if st, body := get(); st != http.StatusServiceUnavailable || len(failed(body)) != 1 || failed(body)[0] != "read_models" {
		t.Fatalf("behind: %d %v", st, body)
	}
	up.Store(false)
	if st, body := get(); st != http.StatusServiceUnavailable || len(failed(body)) != 2 {
		t.Fatalf("behind and disconnected: %d %v", st, body)
	}
	up.Store(true)
	applied.Store(10)
	if st, body := get(); st != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("caught up: %d %v", st, body)
	}
}

// Skipped events (written by a newer release) make the process degraded,
// not down: 200, status "degraded", the events check naming the types;
// a real failure still wins with 503.
func TestReadyDegradedBySkippedEvents(t *testing.T) {
	var skipped atomic.Uint64
	var up atomic.Bool
	up.Store(true)
	h := New(Deps{Log: slog.New(slog.DiscardHandler), Healthy: up.Load,
		Skipped: func() (uint64, string) {
			if skipped.Load() == 0 {
				return 0, ""
			}
			return skipped.Load(), "skipped 3 events this build does not know (types: JobArchived)"
		}})
	get := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/ready", nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		return rec.Code, body
	}
	if st, body := get(); st != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("nothing skipped: %d %v", st, body)
	}
	skipped.Store(3)
	st, body := get()
	ev, _ := body["checks"].(map[string]any)["events"].(map[string]any)
	if st != http.StatusOK || body["status"] != "degraded" || ev["degraded"] != true ||
		!strings.Contains(ev["detail"].(string), "JobArchived") {
		t.Fatalf("skipped: %d %v", st, body)
	}
	up.Store(false)
	if st, body := get(); st != http.StatusServiceUnavailable || body["status"] != "not_ready" {
		t.Fatalf("skipped and disconnected: %d %v", st, body)
	}
}

// Each projection's state and lag is in the body; a failed one, or one
// behind the log for over 30 s, makes the process degraded (its own reads answer 503, the others serve), naming
// the model, the sequence and the reason.
func TestReadyReportsProjections(t *testing.T) {
	var failed, lagging atomic.Bool
	h := New(Deps{Log: slog.New(slog.DiscardHandler), Projections: func(context.Context) []projections.ModelStatus {
		st := []projections.ModelStatus{{Name: "job-status", State: projections.StateRunning, Seq: 40, LagEvents: 2, LagSeconds: 0.5}}
		if lagging.Load() {
			st[0].LagEvents, st[0].LagSeconds = 605, 41
		}
		if failed.Load() {
			st = append(st, projections.ModelStatus{Name: "document-results", State: projections.StateFailed, Seq: 11, FailedSeq: 12, Reason: "boom"})
		}
		return st
	}})
	get := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/ready", nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		return rec.Code, body
	}
	st, body := get()
	models, _ := body["projections"].([]any)
	if st != http.StatusOK || body["status"] != "ready" || len(models) != 1 {
		t.Fatalf("running: %d %v", st, body)
	}
	if m := models[0].(map[string]any); m["state"] != "running" || m["lag_events"] != 2.0 || m["lag_seconds"] != 0.5 {
		t.Fatalf("model: %v", m)
	}
	failed.Store(true)
	st, body = get()
	checks, _ := body["checks"].(map[string]any)
	pc, _ := checks["projections"].(map[string]any)
	if st != http.StatusOK || body["status"] != "degraded" || !strings.Contains(fmt.Sprint(pc["detail"]), "document-results at seq 12: boom") {
		t.Fatalf("failed model: %d %v", st, body)
	}
	failed.Store(false)
	lagging.Store(true)
	st, body = get()
	checks, _ = body["checks"].(map[string]any)
	pc, _ = checks["projections"].(map[string]any)
	if st != http.StatusOK || body["status"] != "degraded" || !strings.Contains(fmt.Sprint(pc["detail"]), "behind the log: job-status 605 events, 41 s") {
		t.Fatalf("a model behind the log for 41 s: %d %v", st, body)
	}
}
