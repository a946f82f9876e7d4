package dispatch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
	"github.com/tagstream/tagstream/services/pipeline"
)

// doneMetrics signals every recorded document outcome; the worker reports
// one only after it has appended what the outcome implies (JobFailed for
// a 401), so the test can wait for that without sleeping.
type doneMetrics struct{ done chan string }

func (doneMetrics) InFlight(int) {}
func (m doneMetrics) DocumentDone(outcome, code string, _ time.Duration) {
	m.done <- outcome + "/" + code
}

// gatedTagger holds each attempt's document until the test opens its gate.
type gatedTagger struct {
	entered map[int]chan pipeline.TagInput
	gates   map[int]chan error
}

func newGatedTagger(attempts ...int) *gatedTagger {
	g := &gatedTagger{entered: map[int]chan pipeline.TagInput{}, gates: map[int]chan error{}}
	for _, a := range attempts {
		g.entered[a], g.gates[a] = make(chan pipeline.TagInput, 1), make(chan error, 1)
	}
	return g
}

func (g *gatedTagger) Tag(ctx context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
	g.entered[in.Attempt] <- in
	select {
	case err := <-g.gates[in.Attempt]:
		if err != nil {
			return pipeline.TagOutput{}, err
		}
		return pipeline.TagOutput{Tags: []string{fmt.Sprintf("attempt %d", in.Attempt)}}, nil
	case <-ctx.Done():
		return pipeline.TagOutput{}, ctx.Err()
	}
}

// The documented recovery from a wrong key is "retry with the right key".
// Attempt 1's document is still with the model when the job is cancelled
// and retried; its 401 arrives during attempt 2 and must not fail it,
// purge its tasks or drop its key.
func TestLateInvalidKeyOfAnOldAttemptDoesNotFailTheRetry(t *testing.T) {
	r := dispatch.NewRig(t, 5*time.Second)
	ctx, store, sec := r.Ctx, r.Store, r.Secrets
	tagger := newGatedTagger(1, 2)
	metrics := doneMetrics{done: make(chan string, 4)}
	r.Go(r.Dispatcher().Run)
	r.Go(r.Worker(tagger, dispatch.WorkerConfig{Concurrency: 2, Metrics: metrics}).Run)
	owner := r.Caller("u1")
	res := r.Start(t, "u1", 1, services.StartConfig{APIKey: "sk-wrong", Model: "openai/gpt-4o-mini"})
	wait := func(ch chan pipeline.TagInput) pipeline.TagInput {
		select {
		case in := <-ch:
			return in
		case <-ctx.Done():
			t.Fatal("the document never reached the tagger")
		}
		return pipeline.TagInput{}
	}
	if in := wait(tagger.entered[1]); in.APIKey != "sk-wrong" {
		t.Fatalf("attempt 1 got key %q", in.APIKey)
	}
	// While attempt 1 is with the model: the status says processing, and
	// resume is refused in the same words.
	_, err := services.NewChangeJobHandler(store).Handle(ctx, services.ChangeJob{JobID: res.JobID, Action: services.ActionResume, Caller: owner})
	if err == nil || err.Error() != "cannot resume a job that is processing" {
		t.Fatalf("resume while tagging: %v", err)
	}
	if _, err := services.NewChangeJobHandler(store).Handle(ctx, services.ChangeJob{JobID: res.JobID, Action: services.ActionCancel, Caller: owner}); err != nil {
		t.Fatal(err)
	}
	retry, err := services.NewRetryJobHandler(store, sec, false).Handle(ctx, services.RetryJob{JobID: res.JobID, Caller: owner,
		APIKey: "sk-right", IncludeCancelled: true})
	if err != nil {
		t.Fatal(err)
	}
	if retry.Attempt != 2 {
		t.Fatalf("attempt %d", retry.Attempt)
	}
	if in := wait(tagger.entered[2]); in.APIKey != "sk-right" {
		t.Fatalf("attempt 2 got key %q", in.APIKey)
	}
	// Now attempt 1's late answer: the key was invalid.
	tagger.gates[1] <- &pipeline.Failure{Code: "llm_auth", Reason: "invalid API key", JobFatal: true}
	select {
	case got := <-metrics.done:
		if got != "failed/llm_auth" {
			t.Fatalf("first outcome %s", got)
		}
	case <-ctx.Done():
		t.Fatal("attempt 1's 401 was never handled")
	}
	for _, env := range readAll(ctx, t, store, events.ControlSubject(res.JobID)) {
		if env.Type == events.TypeJobFailed {
			t.Fatalf("the late 401 of attempt 1 failed attempt 2: %s", env.Data)
		}
	}
	if key, found, err := sec.Lookup(ctx, fmt.Sprintf("%s.%d", res.JobID, 2)); err != nil || !found || key != "sk-right" {
		t.Fatalf("attempt 2's key is gone: %q %v %v", key, found, err)
	}
	tagger.gates[2] <- nil
	last := waitTerminal(ctx, t, store, res.JobID)
	if last.Type != events.TypeJobCompleted {
		t.Fatalf("job ended with %s %s", last.Type, last.Data)
	}
	doc, err := store.Last(ctx, events.DocSubject(res.JobID, 0))
	if err != nil || doc.Type != events.TypeDocumentTagged {
		t.Fatalf("document ended with %s (%v)", doc.Type, err)
	}
}

func readAll(ctx context.Context, t *testing.T, store events.Store, subject string) map[uint64]events.Envelope {
	t.Helper()
	out := map[uint64]events.Envelope{}
	err := store.Read(ctx, subject, 1, func(env events.Envelope) error {
		out[env.Seq] = env
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitTerminal follows the job's control events until one ends it.
func waitTerminal(ctx context.Context, t *testing.T, store events.Store, jobID string) events.Envelope {
	t.Helper()
	var last events.Envelope
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	_ = store.Follow(fctx, events.ControlSubject(jobID), 1, func(env events.Envelope) error {
		switch env.Type {
		case events.TypeJobCompleted, events.TypeJobFailed:
			last = env
			stop()
		case events.TypeJobCancelled:
			last = env
		case events.TypeJobRetried:
			last = events.Envelope{}
		}
		return nil
	})
	if last.Type == "" {
		t.Fatal("the job never finished")
	}
	return last
}
