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
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

type okAuth struct{ Authenticator }

func (okAuth) Verify(context.Context, string) (auth.Claims, error) {
	return auth.Claims{UserID: "u1", Email: "u@example.com", Role: auth.RoleUser}, nil
}

// changer answers with err, or blocks until the request's deadline when
// err is nil, like a NATS request to a server that vanished mid-call.
type changer struct {
	err   error
	calls atomic.Int64
}

func (c *changer) Handle(ctx context.Context, _ services.ChangeJob) (services.ChangeResult, error) {
	c.calls.Add(1)
	if c.err != nil {
		return services.ChangeResult{}, c.err
	}
	<-ctx.Done()
	return services.ChangeResult{}, apperr.Wrap(fmt.Errorf("publish: %w", ctx.Err()), "pause")
}

type oneJob struct{}

func (oneJob) Get(_ context.Context, id string) (projections.Job, bool, error) {
	return projections.Job{ID: id, OwnerID: "u1", Status: "processing"}, id == "known", nil
}
func (oneJob) List(context.Context, projections.Filter) ([]projections.Job, error) { return nil, nil }
func (oneJob) CountByStatus(context.Context, projections.Filter) (map[string]int, error) {
	return map[string]int{}, nil
}

type freshness struct{ err error }

func (f freshness) WaitFor(context.Context, uint64) error { return f.err }
func (f freshness) Sync(context.Context) error            { return f.err }

func TestNATSOutagesAnswer503(t *testing.T) {
	old := natsRequestTimeout
	natsRequestTimeout = 200 * time.Millisecond
	defer func() { natsRequestTimeout = old }()
	var up atomic.Bool
	ch := &changer{}
	fresh := &freshness{}
	h := New(Deps{Log: slog.New(slog.DiscardHandler), Auth: okAuth{}, Change: ch, Jobs: oneJob{},
		Freshness: fresh, Healthy: up.Load})
	call := func(method, path string) (int, map[string]any, time.Duration) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer x")
		start := time.Now()
		h.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body, time.Since(start)
	}
	want503 := func(what, method, path string) {
		t.Helper()
		st, body, took := call(method, path)
		if st != http.StatusServiceUnavailable || body["code"] != "unavailable" || body["detail"] == "" {
			t.Errorf("%s: %d %v, want 503 unavailable", what, st, body)
		}
		if took > 2*time.Second {
			t.Errorf("%s took %s", what, took)
		}
	}

	up.Store(true)
	want503("a command whose NATS call never returns", "POST", "/api/batch/jobs/known/pause")
	ch.err = apperr.Wrap(fmt.Errorf("append: %w", events.ErrUnavailable), "pause")
	want503("a command failing with no responders", "POST", "/api/batch/jobs/known/pause")
	ch.err = apperr.New(apperr.Conflict, "job is completed")
	if st, _, _ := call("POST", "/api/batch/jobs/known/pause"); st != http.StatusConflict {
		t.Errorf("a conflict while NATS is up: %d, want 409", st)
	}
	ch.err = apperr.Wrap(fmt.Errorf("a bug"), "pause")
	if st, _, _ := call("POST", "/api/batch/jobs/known/pause"); st != http.StatusInternalServerError {
		t.Errorf("an internal error while NATS is up: %d, want 500", st)
	}
	fresh.err = fmt.Errorf("last seq: %w", events.ErrUnavailable)
	want503("an unknown job whose catch-up times out", "GET", "/api/batch/jobs/unknown/status")
	fresh.err = nil
	if st, _, _ := call("GET", "/api/batch/jobs/unknown/status"); st != http.StatusNotFound {
		t.Errorf("an unknown job with NATS up: %d, want 404", st)
	}

	up.Store(false)
	calls := ch.calls.Load()
	want503("a command while disconnected", "POST", "/api/batch/jobs/known/cancel")
	if ch.calls.Load() != calls {
		t.Error("a command reached the service while NATS was known to be down")
	}
	want503("an unknown job while disconnected", "GET", "/api/batch/jobs/unknown/status")
	if st, body, _ := call("GET", "/api/batch/jobs/known/status"); st != http.StatusOK {
		t.Errorf("a known job's status from the read model while disconnected: %d %v", st, body)
	}
	if st, _, _ := call("GET", "/api/health"); st != http.StatusServiceUnavailable {
		t.Errorf("health while disconnected: %d", st)
	}
}

// lagging is a read model that does not reach the log's end in time.
type lagging struct{}

func (lagging) WaitFor(ctx context.Context, _ uint64) error { <-ctx.Done(); return ctx.Err() }
func (lagging) Sync(ctx context.Context) error              { <-ctx.Done(); return ctx.Err() }

// A job the read models have not caught up to, with NATS up, is a 503
// that says so (not "NATS is unreachable", not a false 404) and when to
// come back.
func TestLaggingReadModelsAnswer503SayingSo(t *testing.T) {
	old := catchUpWait
	catchUpWait = 50 * time.Millisecond
	defer func() { catchUpWait = old }()
	h := New(Deps{Log: slog.New(slog.DiscardHandler), Auth: okAuth{}, Jobs: oneJob{}, Freshness: lagging{},
		Healthy: func() bool { return true }})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/batch/jobs/batch-1-abc/status", nil)
	req.Header.Set("Authorization", "Bearer x")
	h.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	detail, _ := body["detail"].(string)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(detail, "read models") || strings.Contains(detail, "NATS") {
		t.Fatalf("status of a job the read models lag behind: %d %v, want 503 naming the read models", rec.Code, body)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("a 503 without Retry-After")
	}
	// The log's end not read in time is NATS's fault, not the read models'.
	h = New(Deps{Log: slog.New(slog.DiscardHandler), Auth: okAuth{}, Jobs: oneJob{},
		Freshness: freshness{err: fmt.Errorf("%w: stream info: %w", events.ErrUnavailable, context.DeadlineExceeded)},
		Healthy:   func() bool { return true }})
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), "NATS") || rec.Header().Get("Retry-After") == "" {
		t.Errorf("the log's end not read in time: %d %s, want 503 naming NATS, with Retry-After", rec.Code, rec.Body.String())
	}
	// A 503 that lasts (no search on this server) does not invite retries.
	rec = httptest.NewRecorder()
	docs := httptest.NewRequest("GET", "/api/documents?q=x", nil)
	docs.Header.Set("Authorization", "Bearer x")
	h.ServeHTTP(rec, docs)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "" {
		t.Errorf("search on a server without it: %d, Retry-After %q; want 503 without", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// brokenReadDB fails every query as the read database does when it is
// down.
type brokenReadDB struct{}

func (brokenReadDB) Get(context.Context, string) (projections.Job, bool, error) {
	return projections.Job{}, false, fmt.Errorf("%w: connection refused", projections.ErrReadDB)
}
func (brokenReadDB) List(context.Context, projections.Filter) ([]projections.Job, error) {
	return nil, fmt.Errorf("%w: connection refused", projections.ErrReadDB)
}
func (brokenReadDB) CountByStatus(context.Context, projections.Filter) (map[string]int, error) {
	return nil, fmt.Errorf("%w: connection refused", projections.ErrReadDB)
}

// A read database that cannot answer is a 503, never a 500 or a false 404.
func TestReadDBOutageAnswers503(t *testing.T) {
	h := New(Deps{Log: slog.New(slog.DiscardHandler), Auth: okAuth{}, Jobs: brokenReadDB{}, Freshness: &freshness{}})
	for _, path := range []string{"/api/batch/jobs/known/status", "/api/batch/active", "/api/batch/jobs"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusServiceUnavailable || body["code"] != "unavailable" {
			t.Errorf("GET %s with the read db down: %d %v", path, rec.Code, body)
		}
	}
}
