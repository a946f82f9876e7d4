package dispatch_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/job"
)

// heldSecrets is the real secret store whose claims wait, once made, until
// the test lets them go on: the moment between a start storing its key and
// appending its JobStarted, where a second start used to overwrite it.
type heldSecrets struct {
	services.SecretStore
	claimed chan string
	goOn    map[string]chan struct{}
}

func (h heldSecrets) Claim(ctx context.Context, id, secret string) (bool, error) {
	held, err := h.SecretStore.Claim(ctx, id, secret)
	h.claimed <- secret
	<-h.goOn[secret]
	return held, err
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
			sec := heldSecrets{SecretStore: r.Secrets, claimed: make(chan string, 2),
				goOn: map[string]chan struct{}{"sk-first": make(chan struct{}), "sk-second": make(chan struct{})}}
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
			close(sec.goOn["sk-first"])
			if err := <-firstDone; err != nil {
				t.Fatalf("first start: %v", err)
			}
			close(sec.goOn["sk-second"])
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
	res := r.Start(t, "u1", 1, services.StartConfig{Model: "openai/gpt-4o-mini", APIKey: "sk-start"})
	if _, err := services.NewChangeJobHandler(r.Store).Handle(r.Ctx, services.ChangeJob{JobID: res.JobID,
		Action: services.ActionCancel, Caller: r.Caller("u1")}); err != nil {
		t.Fatal(err)
	}
	sec := heldSecrets{SecretStore: r.Secrets, claimed: make(chan string, 2),
		goOn: map[string]chan struct{}{"sk-first": make(chan struct{}), "sk-second": make(chan struct{})}}
	h := services.NewRetryJobHandler(r.Store, sec, false)
	retry := func(key string, out chan<- error) {
		_, err := h.Handle(r.Ctx, services.RetryJob{JobID: res.JobID, Caller: r.Caller("u1"), APIKey: key, IncludeCancelled: true})
		out <- err
	}
	firstDone, otherDone := make(chan error, 1), make(chan error, 1)
	go retry("sk-first", firstDone)
	<-sec.claimed
	go retry("sk-second", otherDone)
	<-sec.claimed
	close(sec.goOn["sk-first"])
	if err := <-firstDone; err != nil {
		t.Fatalf("first retry: %v", err)
	}
	close(sec.goOn["sk-second"])
	if err := <-otherDone; apperr.Code(err) != apperr.Conflict {
		t.Fatalf("second retry: %v; want a conflict", err)
	}
	key, found, err := r.Secrets.Lookup(r.Ctx, job.SecretID(res.JobID, 2))
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
	res := r.Start(t, "u1", 1, services.StartConfig{Model: "openai/gpt-4o-mini", APIKey: "sk-start"})
	if _, err := services.NewChangeJobHandler(r.Store).Handle(r.Ctx, services.ChangeJob{JobID: res.JobID,
		Action: services.ActionCancel, Caller: r.Caller("u1")}); err != nil {
		t.Fatal(err)
	}
	first, second := make(chan struct{}), make(chan struct{})
	sec := &orderedSecrets{SecretStore: r.Secrets, claimed: make(chan int, 2), goOn: []chan struct{}{first, second}}
	h := services.NewRetryJobHandler(r.Store, sec, false)
	retry := func(out chan<- error) {
		_, err := h.Handle(r.Ctx, services.RetryJob{JobID: res.JobID, Caller: r.Caller("u1"), APIKey: "sk-same", IncludeCancelled: true})
		out <- err
	}
	aDone, bDone := make(chan error, 1), make(chan error, 1)
	go retry(aDone)
	<-sec.claimed
	go retry(bDone)
	<-sec.claimed
	close(second) // the second request appends first
	if err := <-bDone; err != nil {
		t.Fatalf("the retry that appended: %v", err)
	}
	close(first)
	<-aDone // refused or shared: either way the attempt is the second's
	key, found, err := r.Secrets.Lookup(r.Ctx, job.SecretID(res.JobID, 2))
	if err != nil || !found || key != "sk-same" {
		t.Fatalf("attempt 2's key: %q found %v, %v", key, found, err)
	}
}

// orderedSecrets is heldSecrets by the order of the claims (both with one
// key); later claims (a retry's next round) go straight through.
type orderedSecrets struct {
	services.SecretStore
	mu      sync.Mutex
	claimed chan int
	goOn    []chan struct{}
	n       int
}

func (o *orderedSecrets) Claim(ctx context.Context, id, secret string) (bool, error) {
	held, err := o.SecretStore.Claim(ctx, id, secret)
	o.mu.Lock()
	i := o.n
	o.n++
	o.mu.Unlock()
	if i < len(o.goOn) {
		o.claimed <- i
		<-o.goOn[i]
	}
	return held, err
}
