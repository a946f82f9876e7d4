package pipeline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/pdftext"
)

// The same URL on several rows of one job is fetched once, whether the
// rows run at the same time or one after another; another job fetches it
// again (its bytes are never shared across jobs).
func TestSameURLInOneJobIsFetchedOnce(t *testing.T) {
	pdf, err := os.ReadFile("../../examples/docs/circular-water.pdf")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	release, arrived := make(chan struct{}), make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		arrived <- struct{}{}
		<-release // hold the first fetch until every row has asked
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write(pdf)
	}))
	defer srv.Close()
	p := New(fetch.Config{AllowPrivate: true}, llm.Config{}, pdftext.Options{})
	doc := events.Document{Title: "Water", FilePath: srv.URL + "/circular.pdf", SourceType: fetch.TypeURL}
	cfg := events.JobConfig{Model: KeywordsModel, NumTags: 5, NumPages: 2}
	tag := func(job string, row int) (TagOutput, error) {
		d := doc
		d.Row = row
		return p.Tag(context.Background(), TagInput{JobID: job, Document: d, Config: cfg})
	}

	const rows = 4
	var wg sync.WaitGroup
	errs := make(chan error, rows)
	for row := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := tag("job-a", row)
			if err == nil && len(out.Tags) == 0 {
				t.Errorf("row %d: no tags", row)
			}
			errs <- err
		}()
	}
	// Release once the first request is in; the other rows either joined it
	// or will find its bytes kept.
	<-arrived
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("tagging failed: %v", err)
		}
	}
	if _, err := tag("job-a", 9); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the document server was asked %d times for one URL in one job, want 1", n)
	}
	if _, err := tag("job-b", 0); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("another job reused the first job's bytes: %d fetches, want 2", n)
	}
}

// A failed fetch is not remembered, and the memo stays within its bytes.
func TestFetchMemoForgetsFailuresAndStaysBounded(t *testing.T) {
	m := newFetchMemo(100, time.Hour)
	calls := 0
	fail := func(context.Context) ([]byte, error) {
		calls++
		return nil, &fetch.Error{Code: fetch.CodeNotFound, Reason: "gone"}
	}
	for range 2 {
		if _, err := m.read(context.Background(), "k", fail); err == nil {
			t.Fatal("a failed fetch read as success")
		}
	}
	if calls != 2 {
		t.Fatalf("a failed fetch was remembered: %d calls, want 2", calls)
	}
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		data := make([]byte, 25)
		data[0] = byte(i)
		if _, err := m.read(context.Background(), k, func(context.Context) ([]byte, error) { return data, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if m.size > 100 {
		t.Fatalf("memo holds %d bytes, budget 100", m.size)
	}
	if _, ok := m.get("a"); ok {
		t.Fatal("the oldest entry survived past the budget")
	}
	if d, ok := m.get("e"); !ok || d[0] != 4 {
		t.Fatal("the newest entry was evicted")
	}
	now := time.Now()
	m.now = func() time.Time { return now.Add(2 * time.Hour) }
	if _, ok := m.get("e"); ok {
		t.Fatal("an entry outlived its TTL")
	}
}
