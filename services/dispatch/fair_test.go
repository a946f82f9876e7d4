package dispatch

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/pipeline"
)

// gate holds every document in Tag until the test lets it go by key.
type gate struct {
	mu      sync.Mutex
	open    map[string]chan struct{}
	started chan string // job/row of each Tag call, in order
}

func docKey(job string, row int) string { return fmt.Sprintf("%s/%d", job, row) }

func (g *gate) Tag(ctx context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
	k := docKey(in.JobID, in.Document.Row)
	g.mu.Lock()
	ch := make(chan struct{})
	g.open[k] = ch
	g.mu.Unlock()
	g.started <- k
	select {
	case <-ch:
		return pipeline.TagOutput{Tags: []string{"ok"}}, nil
	case <-ctx.Done():
		return pipeline.TagOutput{}, ctx.Err()
	}
}

func (g *gate) let(k string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.open[k])
}

func TestFreedSlotsGoToTheOwnerWithFewestInFlight(t *testing.T) {
	r := NewRig(t, 30*time.Second)
	ctx, store, queue := r.Ctx, r.Store, r.Queue
	g := &gate{open: map[string]chan struct{}{}, started: make(chan string, 100)}
	w := r.Worker(g, WorkerConfig{Concurrency: 4})
	r.Go(r.Dispatcher().Run)

	owners := map[string]string{} // job -> owner
	start := func(owner string, docs int) string {
		res := r.Start(t, owner, docs, services.StartConfig{})
		owners[res.JobID] = owner
		return res.JobID
	}
	next := func() string {
		select {
		case k := <-g.started:
			return k
		case <-ctx.Done():
			t.Fatal("no document started")
			return ""
		}
	}
	// The worker knows the job and its tasks are queued: from now on a
	// free slot may go to it.
	waitReady := func(job string, tasks uint64, byWorker bool) {
		for {
			w.mu.Lock()
			_, known := w.jobs[job]
			w.mu.Unlock()
			known = known || !byWorker
			if c, _ := queue.consumer(ctx, job); known && c != nil {
				if info, err := c.Info(ctx); err == nil && info.NumPending == tasks {
					return
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("job %s never became ready", job)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// Owner A fills every slot with ten jobs of three documents.
	// Its jobs are all queued before the worker starts, so which of them
	// get the slots depends on the scheduler alone.
	for i := 0; i < 10; i++ {
		waitReady(start("a", 3), 3, false)
	}
	r.Go(w.Run)
	var inFlight []string
	for len(inFlight) < 4 {
		inFlight = append(inFlight, next())
	}
	// Owner B arrives with one job of four documents.
	b := start("b", 4)
	waitReady(b, 4, true)

	// Free one slot at a time, oldest document first: each freed slot goes
	// to whoever has fewer in flight, so B takes two slots at once and
	// from then on the owners hold two each, whoever's document ended.
	count := map[string]int{"a": 4}
	var got []string
	for i := 0; i < 8; i++ {
		done := inFlight[0]
		inFlight = inFlight[1:]
		g.let(done)
		count[owners[jobOf(done)]]--
		k := next()
		inFlight = append(inFlight, k)
		o := owners[jobOf(k)]
		count[o]++
		got = append(got, o)
		if i >= 1 && (count["a"] != 2 || count["b"] != 2) {
			t.Fatalf("after %d releases: in flight a=%d b=%d; starts %v", i+1, count["a"], count["b"], got)
		}
	}
	// B's two first, then each owner replaces its own.
	if want := "[b b a a b b a a]"; fmt.Sprint(got) != want {
		t.Fatalf("starts after B arrived: %v, want %s", got, want)
	}

	// The log says the same: DocumentStarted events by job owner.
	fromLog := map[string]int{}
	err := store.Read(ctx, "jobs.>", 1, func(env events.Envelope) error {
		if env.Type == events.TypeDocumentStarted {
			fromLog[owners[env.JobID]]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	starts := map[string]int{}
	for _, o := range got {
		starts[o]++
	}
	if fromLog["a"] != 4+starts["a"] || fromLog["b"] != starts["b"] {
		t.Fatalf("log: starts by owner %v; scheduler saw 4 a then %v", fromLog, got)
	}
	if starts["b"] != 4 {
		t.Fatalf("owner b started %d of its 4 documents while holding its fair share: %v", starts["b"], got)
	}
}

func jobOf(k string) string {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == '/' {
			return k[:i]
		}
	}
	return k
}

func TestPickTakesTurnsAmongEqualOwnersAndTheirJobs(t *testing.T) {
	w := &Worker{ownerInFlight: map[string]int{}, lastJob: map[string]string{}}
	jobs := []ownedJob{{"a1", "a"}, {"a2", "a"}, {"a3", "a"}, {"b1", "b"}, {"c1", "c"}}
	var got []string
	for i := 0; i < 6; i++ {
		owner, job, owners := w.pick(jobs, map[string]bool{"c1": true}) // c has nothing to take
		if owners != 2 {
			t.Fatalf("%d owners share the slots, want 2 (a and b)", owners)
		}
		// As startTask records it, and the slot is freed at once: every
		// owner has the same load, so the turns alone decide.
		w.lastOwner, w.lastJob[owner] = owner, job
		got = append(got, job)
	}
	if want := "[a1 b1 a2 b1 a3 b1]"; fmt.Sprint(got) != want {
		t.Fatalf("picks %v, want %s", got, want)
	}
	// Load beats turns: c holds none, so it is served first; without c,
	// b (one in flight) goes before a (two) although b was served last.
	w.ownerInFlight = map[string]int{"a": 2, "b": 1}
	if owner, _, _ := w.pick(jobs, map[string]bool{}); owner != "c" {
		t.Fatalf("picked %s, want c (none in flight)", owner)
	}
	if owner, _, _ := w.pick(jobs, map[string]bool{"c1": true}); owner != "b" {
		t.Fatalf("picked %s, want b (fewer in flight)", owner)
	}
	if _, job, _ := w.pick(jobs, map[string]bool{"a1": true, "a2": true, "a3": true, "b1": true, "c1": true}); job != "" {
		t.Fatalf("picked %s with every job dry", job)
	}
}
