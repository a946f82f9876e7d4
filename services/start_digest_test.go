package services_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/memstore"
	"github.com/tagstream/tagstream/events/sealed"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/datakeys"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/services"
)

// A start's request digest and input id are keyed by the job's data key:
// the same documents give other values in another job (so the log does not
// tell whoever guesses them), a repeated start still finds its job, an
// erasure leaves nothing that matches, and jobs logged with plain digests
// (before this release) stay idempotent.
func TestStartDigestsAreKeyedByTheJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := natstest.Start(t, t.TempDir())
	keys, err := datakeys.Open(ctx, conn.JS, 1, bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	store := sealed.New(memstore.New(), keys)
	keyed := services.NewStartJobHandler(store, noSecrets{}, 10, false).WithDigests(keys)
	plain := services.NewStartJobHandler(store, noSecrets{}, 10, false) // as the last release did
	caller := services.Caller{Actor: events.User("u1", "u1@example.com")}
	start := func(h services.StartJobHandler, jobID, path string) (services.StartResult, error) {
		return h.Handle(ctx, services.StartJob{Caller: caller, JobID: jobID,
			Documents: []map[string]any{{"title": "Circular 12", "file_path": path}},
			Config:    services.StartConfig{Model: services.KeywordsModel}})
	}
	started := func(jobID, path string, h services.StartJobHandler) (services.StartResult, *events.JobStarted) {
		t.Helper()
		res, err := start(h, jobID, path)
		if err != nil {
			t.Fatal(err)
		}
		env, err := store.Last(ctx, events.ControlSubject(res.JobID))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := env.Decode()
		if err != nil {
			t.Fatal(err)
		}
		return res, ev.(*events.JobStarted)
	}
	const doc = "https://example.org/c12.pdf"
	resA, a := started("a", doc, keyed)
	_, b := started("b", doc, keyed)
	_, p := started("p", doc, plain)
	switch {
	case a.DigestKey != events.DigestKeyJob || p.DigestKey != "":
		t.Fatalf("digest keys: %q and plain %q", a.DigestKey, p.DigestKey)
	case a.RequestDigest == b.RequestDigest || a.InputID == b.InputID:
		t.Fatalf("two jobs of the same documents share digest %s / input %s", a.RequestDigest, a.InputID)
	case a.RequestDigest == p.RequestDigest || a.InputID != a.RequestDigest[:32]:
		t.Fatalf("keyed digest %s (input %s) against plain %s", a.RequestDigest, a.InputID, p.RequestDigest)
	}

	conflict := func(what string, err error) {
		t.Helper()
		if apperr.Code(err) != apperr.Conflict {
			t.Fatalf("%s: want a 409, got %v", what, err)
		}
	}
	for _, job := range []string{"a", "p"} {
		again, err := start(keyed, job, doc)
		if err != nil || !again.Existed {
			t.Fatalf("job %s started again: %+v %v", job, again, err)
		}
		_, err = start(keyed, job, "https://example.org/other.pdf")
		conflict("job "+job+" with other documents", err)
	}
	if err := keys.Destroy(ctx, resA.JobID); err != nil {
		t.Fatal(err)
	}
	_, err = start(keyed, "a", doc)
	conflict("the erased job's request again", err)
}
