package dispatch_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/secrets"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
	"github.com/tagstream/tagstream/services/pipeline"
)

// flakySecrets is the real secret store whose first lookups fail, as they
// do while a NATS cluster elects a new leader.
type flakySecrets struct {
	*secrets.Store
	failures atomic.Int64
}

func (f *flakySecrets) Lookup(ctx context.Context, id string) (string, bool, error) {
	if f.failures.Add(-1) >= 0 {
		return "", false, errors.New("nats: timeout")
	}
	return f.Store.Lookup(ctx, id)
}

func TestUnreachableSecretStorePostponesInsteadOfFailing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn := natstest.Start(t, "")
	store, err := jsstore.Open(ctx, conn.JS, jsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := dispatch.OpenTaskQueue(ctx, conn.JS, 1, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	real, err := secrets.Open(ctx, conn.JS, 1, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	sec := &flakySecrets{Store: real}
	sec.failures.Store(3)
	var gotKey atomic.Value
	tagger := pipeline.TaggerFunc(func(_ context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
		gotKey.Store(in.APIKey)
		return pipeline.TagOutput{Tags: []string{"ok"}}, nil
	})
	log := slog.New(slog.DiscardHandler)
	// Both loops must have returned before the test ends: goleak checks
	// the package afterwards, and a loaded machine may still be unwinding.
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Add(2)
	go func() { defer wg.Done(); _ = dispatch.NewDispatcher(conn.JS, store, queue, sec, log).Run(runCtx) }()
	go func() {
		defer wg.Done()
		_ = dispatch.NewWorker(store, queue, sec, tagger, dispatch.WorkerConfig{ID: "w", Concurrency: 1, Log: log}).Run(runCtx)
	}()
	start := services.NewStartJobHandler(store, sec, 10, false)
	res, err := start.Handle(ctx, services.StartJob{
		Caller:    services.Caller{Actor: events.User("u1", "u1@example.com")},
		Documents: []map[string]any{{"file_path": "a.pdf"}},
		Config:    services.StartConfig{APIKey: "sk-flaky", Model: "openai/gpt-4o-mini"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		last, err := store.Last(ctx, events.ControlSubject(res.JobID))
		if err == nil && (last.Type == events.TypeJobCompleted || last.Type == events.TypeJobFailed || last.Type == events.TypeJobCancelled) {
			if last.Type != events.TypeJobCompleted {
				doc, _ := store.Last(ctx, events.DocSubject(res.JobID, 0))
				t.Fatalf("job ended with %s %s; document: %s %s", last.Type, last.Data, doc.Type, doc.Data)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("job never finished")
		}
		time.Sleep(20 * time.Millisecond)
	}
	doc, err := store.Last(ctx, events.DocSubject(res.JobID, 0))
	if err != nil || doc.Type != events.TypeDocumentTagged {
		t.Fatalf("document ended with %s (%v); a store hiccup must not fail it", doc.Type, err)
	}
	if gotKey.Load() != "sk-flaky" {
		t.Fatalf("tagger got key %v", gotKey.Load())
	}
}
