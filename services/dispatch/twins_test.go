package dispatch_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/pdftext"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
	"github.com/tagstream/tagstream/services/pipeline"
)

// docServer serves a real PDF under any path, with the path after its
// %%EOF so that each path has its own bytes, and counts the requests per
// path. Until two requests have arrived, each one waits, so two
// workers of one slot each are both fetching at once: a URL that both
// took would be fetched twice.
type docServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newDocServer(t *testing.T) *docServer {
	pdf, err := os.ReadFile("../../examples/docs/circular-water.pdf")
	if err != nil {
		t.Fatal(err)
	}
	s := &docServer{hits: map[string]int{}}
	var arrived atomic.Int32
	both := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		if arrived.Add(1) == 2 {
			close(both)
		}
		select {
		case <-both:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write(append(append([]byte(nil), pdf...), "% "+r.URL.Path+"\n"...))
	}))
	t.Cleanup(s.Close)
	return s
}

// A job naming a few URLs many times (in different spellings), run by two
// worker processes (each its own pipeline, so its own fetch memo) on one
// JetStream: each distinct URL is fetched once and tagged by one model
// call; every row ends tagged, its twins with cached_from the tagging
// they took. With cache false every row is tagged on its own.
func TestSameURLInOneJobIsFetchedOnceAcrossWorkers(t *testing.T) {
	r := newRig(t)
	cache, err := dispatch.OpenContentCache(r.Ctx, r.Conn.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	docs := newDocServer(t)
	model := llmfake.New(t, llmfake.Options{}) // ample tags for numTags: no follow-up call
	host := strings.TrimPrefix(docs.URL, "http://")
	spellings := func(name string) []string {
		return []string{docs.URL + "/" + name, "HTTP://" + strings.ToUpper(host) + "/" + name, docs.URL + "/" + name + "#page=2"}
	}
	var rows []map[string]any
	for _, name := range []string{"a.pdf", "b.pdf", "c.pdf"} {
		for _, u := range append(spellings(name), docs.URL+"/"+name) {
			rows = append(rows, map[string]any{"file_path": u, "title": name})
		}
	}
	rows = append(rows, map[string]any{"file_path": docs.URL + "/d.pdf"})
	r.Go(r.Dispatcher().Run)
	for _, id := range []string{"w1", "w2"} {
		tagger := pipeline.New(fetch.Config{AllowPrivate: true}, llm.Config{BaseURL: model.BaseURL()}, pdftext.Options{})
		r.Go(r.Worker(tagger, dispatch.WorkerConfig{ID: id, Concurrency: 1, Cache: cache}).Run)
	}
	numTags := 4 // fewer than the fake answers: no follow-up call
	run := func(owner string, cacheOn bool) (tagged []events.DocumentTagged, actors map[string]bool) {
		t.Helper()
		res, err := services.NewStartJobHandler(r.Store, r.SecretStore, 100, false).Handle(r.Ctx, services.StartJob{
			Caller: r.Caller(owner), Documents: rows,
			Config: services.StartConfig{Model: "openai/gpt-4o-mini", APIKey: "sk-test", OCR: "off", NumTags: &numTags, Cache: &cacheOn},
		})
		if err != nil {
			t.Fatal(err)
		}
		if last := waitTerminal(r.Ctx, t, r.Store, res.JobID); last.Type != events.TypeJobCompleted {
			t.Fatalf("job ended %s", last.Type)
		}
		actors = map[string]bool{}
		if err := r.Store.Read(r.Ctx, events.JobSubjects(res.JobID), 1, func(env events.Envelope) error {
			ev, err := env.Decode()
			if e, ok := ev.(*events.DocumentTagged); ok && err == nil {
				tagged = append(tagged, *e)
				actors[env.Actor.ID] = true
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(tagged) != len(rows) {
			t.Fatalf("%d rows tagged, want %d", len(tagged), len(rows))
		}
		return tagged, actors
	}

	tagged, actors := run("u1", true)
	for path, n := range docs.hits {
		if n != 1 {
			t.Errorf("%s fetched %d times, want once", path, n)
		}
	}
	if len(docs.hits) != 4 || model.Calls() != 4 {
		t.Errorf("%d sources fetched, %d model calls; want 4 and 4 (one per distinct URL)", len(docs.hits), model.Calls())
	}
	if !actors["w1"] || !actors["w2"] {
		t.Errorf("outcomes recorded by %v: both workers should have taken a URL", actors)
	}
	twins := 0
	for _, e := range tagged {
		if e.Metadata.CachedFrom != 0 {
			twins++
			if e.Metadata.Calls != 0 || e.Metadata.TotalTokens != 0 || e.Metadata.ContentSHA256 == "" {
				t.Errorf("row %d: a twin's metadata %+v", e.Row, e.Metadata)
			}
		}
	}
	if twins != len(rows)-4 {
		t.Errorf("%d rows tagged from their twin, want %d", twins, len(rows)-4)
	}

	// cache false: every row its own model call, nothing taken from
	// another row (each process may fetch a URL once for the job).
	before := model.Calls()
	tagged, _ = run("u2", false)
	for _, e := range tagged {
		if e.Metadata.CachedFrom != 0 {
			t.Errorf("row %d took cached tags with cache false", e.Row)
		}
	}
	if got := model.Calls() - before; got != int64(len(rows)) {
		t.Errorf("cache false: %d model calls, want %d (one per row)", got, len(rows))
	}
}
