package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// singleFake starts nothing: it hands out a job id whose status the test
// moves, and a tap the test fires as the runner would.
type singleFake struct {
	mu      sync.Mutex
	status  string
	deliver func(events.Envelope) bool
	tapped  chan struct{}
}

func (f *singleFake) Handle(context.Context, services.ProcessSingle) (services.StartResult, error) {
	return services.StartResult{JobID: "one", Total: 1}, nil
}
func (f *singleFake) MaxBytes() int64 { return 1 << 20 }
func (f *singleFake) Get(_ context.Context, id string) (projections.Job, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return projections.Job{ID: "one", OwnerID: "u1", Status: f.status, Total: 1}, id == "one", nil
}
func (f *singleFake) List(context.Context, projections.Filter) ([]projections.Job, error) {
	return nil, nil
}
func (f *singleFake) CountByStatus(context.Context, projections.Filter) (map[string]int, error) {
	return map[string]int{}, nil
}
func (f *singleFake) Tap(snapshot func(uint64), deliver func(events.Envelope) bool) func() {
	snapshot(1)
	f.mu.Lock()
	f.deliver = deliver
	f.mu.Unlock()
	close(f.tapped)
	return func() {}
}
func (f *singleFake) Page(context.Context, string, int, int) ([]projections.Result, int, bool, error) {
	return nil, 0, true, nil
}
func (f *singleFake) Rows(context.Context, string, []int) ([]projections.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := projections.Result{Document: events.Document{Title: "a.pdf"}, Status: "processing"}
	if f.status == events.StatusCompleted {
		r.Status, r.Tags = "success", []string{"x"}
	}
	return []projections.Result{r}, nil
}

func singleRequestFor() *http.Request {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("pdf_url", "https://example.com/a.pdf")
	_ = mw.Close()
	req := httptest.NewRequest("POST", singlePath, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer x")
	return req
}

// The answer waits on the tap for the job's terminal status (200 with the
// outcome), or gives up at SingleWait with 202 and the job id.
func TestSingleProcessWaitsForTheOutcomeOr202(t *testing.T) {
	for _, finish := range []bool{true, false} {
		f := &singleFake{status: events.StatusProcessing, tapped: make(chan struct{})}
		wait := 30 * time.Second // safety net: a missed wake-up answers 202 and fails
		if !finish {
			wait = 50 * time.Millisecond
		}
		h := New(Deps{Auth: okAuth{}, Single: f, Jobs: f, Results: f, Tap: f, SingleWait: wait, Log: slog.New(slog.DiscardHandler)})
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { h.ServeHTTP(rec, singleRequestFor()); close(done) }()
		if finish {
			<-f.tapped
			f.deliver(events.Envelope{JobID: "other"}) // another job's event changes nothing
			f.mu.Lock()
			f.status = events.StatusCompleted
			deliver := f.deliver
			f.mu.Unlock()
			deliver(events.Envelope{JobID: "one"})
		}
		<-done
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		want, status := 200, "success"
		if !finish {
			want, status = 202, "processing"
		}
		if rec.Code != want || out["job_id"] != "one" || out["status"] != status || out["title"] != "a.pdf" {
			t.Errorf("finish=%v: %d %v", finish, rec.Code, out)
		}
	}
}
