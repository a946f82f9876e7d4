package dispatch_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
	"github.com/tagstream/tagstream/services/job"
)

// heldSecrets is the real secret store whose first claims wait, once
// made, until the test lets each go on (goOn, in the order they were
// made): the moment between a command storing its key and appending its
// event, where a second command used to overwrite it. Later claims (a
// retry's next round) go straight through.
type heldSecrets struct {
	services.SecretStore
	mu      sync.Mutex
	claimed chan int
	goOn    []chan struct{}
	n       int
}

// holdClaims wraps the rig's secret store, holding its first two claims.
func holdClaims(r *dispatch.Rig) *heldSecrets {
	return &heldSecrets{SecretStore: r.Secrets, claimed: make(chan int, 2), goOn: []chan struct{}{make(chan struct{}), make(chan struct{})}}
}

func (h *heldSecrets) Claim(ctx context.Context, id, secret string) (bool, error) {
	held, err := h.SecretStore.Claim(ctx, id, secret)
	h.mu.Lock()
	i := h.n
	h.n++
	h.mu.Unlock()
	if i < len(h.goOn) {
		h.claimed <- i
		<-h.goOn[i]
	}
	return held, err
}

// cancelledJob is a one-document job of u1's, started with a key and
// cancelled: a retry may run it again.
func cancelledJob(t *testing.T, r *dispatch.Rig) string {
	t.Helper()
	res := r.Start(t, "u1", 1, services.StartConfig{Model: "openai/gpt-4o-mini", APIKey: "sk-start"})
	if _, err := services.NewChangeJobHandler(r.Store).Handle(r.Ctx, services.ChangeJob{JobID: res.JobID,
		Action: services.ActionCancel, Caller: r.Caller("u1")}); err != nil {
		t.Fatal(err)
	}
	return res.JobID
}

// Two starts of one job_id with different API keys, the second storing
// its key while the first is about to append: the job keeps the key of
// the start that made it, whether the second was the same request (it
// shares the job) or another one (409). Before, the second start's key
// overwrote the first's, so a job ran on a key its starter never gave.
func TestConcurrentStartsOfOneJobIDKeepTheWinnersKey(t *testing.T) {
	for _, same := range []bool{true, false} {
		t.Run(fmt.Sprintf("same-documents-%v", same), func(t *testing.T) {
			r := newRig(t)
			sec := holdClaims(r)
			h := services.NewStartJobHandler(r.Store, sec, 100, false)
			start := func(key, file string, out chan<- error, res *services.StartResult) {
				var err error
				*res, err = h.Handle(r.Ctx, services.StartJob{Caller: r.Caller("u1"), JobID: "nightly",
					Documents: []map[string]any{{"file_path": file}},
					Config:    services.StartConfig{Model: "openai/gpt-4o-mini", APIKey: key}})
				out <- err
			}
			second := "a.pdf"
			if !same {
				second = "b.pdf"
			}
			var first, other services.StartResult
			firstDone, otherDone := make(chan error, 1), make(chan error, 1)
			go start("sk-first", "a.pdf", firstDone, &first)
			<-sec.claimed
			go start("sk-second", second, otherDone, &other)
			<-sec.claimed
			close(sec.goOn[0])
			if err := <-firstDone; err != nil {
				t.Fatalf("first start: %v", err)
			}
			close(sec.goOn[1])
			err := <-otherDone
			switch {
			case same && (err != nil || other.JobID != first.JobID || !other.Existed):
				t.Fatalf("the same request again: %+v, %v; want it to share job %s", other, err, first.JobID)
			case !same && apperr.Code(err) != apperr.Conflict:
				t.Fatalf("another request with the same job_id: %v; want a conflict", err)
			}
			key, found, err := r.Secrets.Lookup(r.Ctx, job.SecretID(first.JobID, 1))
			if err != nil || !found || key != "sk-first" {
				t.Fatalf("job %s runs on key %q (found %v, %v); want the first start's", first.JobID, key, found, err)
			}
		})
	}
}

// The same for two retries of one job racing with different keys (an
// owner and an organisation admin, say): the attempt keeps the key of the
// retry that made it, and the other is a conflict.
func TestConcurrentRetriesKeepTheWinnersKey(t *testing.T) {
	r := newRig(t)
	jobID := cancelledJob(t, r)
	sec := holdClaims(r)
	h := services.NewRetryJobHandler(r.Store, sec, false)
	retry := func(key string, out chan<- error) {
		_, err := h.Handle(r.Ctx, services.RetryJob{JobID: jobID, Caller: r.Caller("u1"), APIKey: key, IncludeCancelled: true})
		out <- err
	}
	firstDone, otherDone := make(chan error, 1), make(chan error, 1)
	go retry("sk-first", firstDone)
	<-sec.claimed
	go retry("sk-second", otherDone)
	<-sec.claimed
	close(sec.goOn[0])
	if err := <-firstDone; err != nil {
		t.Fatalf("first retry: %v", err)
	}
	close(sec.goOn[1])
	if err := <-otherDone; apperr.Code(err) != apperr.Conflict {
		t.Fatalf("second retry: %v; want a conflict", err)
	}
	key, found, err := r.Secrets.Lookup(r.Ctx, job.SecretID(jobID, 2))
	if err != nil || !found || key != "sk-first" {
		t.Fatalf("attempt 2 runs on key %q (found %v, %v); want the first retry's", key, found, err)
	}
}

// A double-clicked retry (the same key twice): the second request appends
// the attempt, the first's append then conflicts, and the attempt's key is
// still there (a release by the request whose append failed deleted it,
// so every document of the attempt failed for a missing key).
func TestADoubleClickedRetryKeepsItsKey(t *testing.T) {
	r := newRig(t)
	jobID := cancelledJob(t, r)
	sec := holdClaims(r)
	h := services.NewRetryJobHandler(r.Store, sec, false)
	retry := func(out chan<- error) {
		_, err := h.Handle(r.Ctx, services.RetryJob{JobID: jobID, Caller: r.Caller("u1"), APIKey: "sk-same", IncludeCancelled: true})
		out <- err
	}
	aDone, bDone := make(chan error, 1), make(chan error, 1)
	go retry(aDone)
	<-sec.claimed
	go retry(bDone)
	<-sec.claimed
	close(sec.goOn[1]) // the second request appends first
	if err := <-bDone; err != nil {
		t.Fatalf("the retry that appended: %v", err)
	}
	close(sec.goOn[0])
	<-aDone // refused or shared: either way the attempt is the second's
	key, found, err := r.Secrets.Lookup(r.Ctx, job.SecretID(jobID, 2))
	if err != nil || !found || key != "sk-same" {
		t.Fatalf("attempt 2's key: %q found %v, %v", key, found, err)
	}
}
