package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
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
