package dispatch_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
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
	r := dispatch.NewRig(t, 2*time.Second)
	ctx, store := r.Ctx, r.Store
	sec := &flakySecrets{Store: r.Secrets}
	sec.failures.Store(3)
	var gotKey atomic.Value
	tagger := pipeline.TaggerFunc(func(_ context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
		gotKey.Store(in.APIKey)
		return pipeline.TagOutput{Tags: []string{"ok"}}, nil
	})
	r.SecretStore = sec
	r.Go(r.Dispatcher().Run)
	r.Go(r.Worker(tagger, dispatch.WorkerConfig{Concurrency: 1}).Run)
	res := r.Start(t, "u1", 1, services.StartConfig{APIKey: "sk-flaky", Model: "openai/gpt-4o-mini"})
	if last := waitTerminal(ctx, t, store, res.JobID); last.Type != events.TypeJobCompleted {
		doc, _ := store.Last(ctx, events.DocSubject(res.JobID, 0))
		t.Fatalf("job ended with %s %s; document: %s %s", last.Type, last.Data, doc.Type, doc.Data)
	}
	doc, err := store.Last(ctx, events.DocSubject(res.JobID, 0))
	if err != nil || doc.Type != events.TypeDocumentTagged {
		t.Fatalf("document ended with %s (%v); a store hiccup must not fail it", doc.Type, err)
	}
	if gotKey.Load() != "sk-flaky" {
		t.Fatalf("tagger got key %v", gotKey.Load())
	}
}
