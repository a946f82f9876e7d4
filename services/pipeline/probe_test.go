package pipeline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/pdftext"
)

type noCache struct{}

func (noCache) Get(context.Context, string) (CacheEntry, bool, error) {
	return CacheEntry{}, false, nil
}

// A probe that misses hands what it read to Tag: a source that fails is
// asked once per attempt, not once by the probe and again by Tag (a
// failure is not kept in the fetch memo).
func TestProbeMissIsNotReadAgain(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	p := New(fetch.Config{AllowPrivate: true}, llm.Config{}, pdftext.Options{})
	in := TagInput{JobID: "job-1", Attempt: 1, Owner: "u1", Cache: noCache{},
		Document: events.Document{FilePath: srv.URL + "/gone.pdf", SourceType: fetch.TypeURL},
		Config:   events.JobConfig{Model: "openai/gpt-4o-mini", NumTags: 5}}
	_, hit, read := p.Cached(context.Background(), in)
	if hit || read == nil {
		t.Fatalf("a missing document: hit %v, probe %v", hit, read)
	}
	in.Probe = read
	_, err := p.Tag(context.Background(), in)
	if f := AsFailure(err); f.Code != "fetch_"+fetch.CodeNotFound {
		t.Fatalf("failure %+v", f)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the source was asked %d times, want once", n)
	}
}
