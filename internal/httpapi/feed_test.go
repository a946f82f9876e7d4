package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// fakeTap delivers events synchronously, like the runner does under its
// apply lock.
type fakeTap struct{ deliver func(events.Envelope) bool }

func (f *fakeTap) Tap(snapshot func(uint64), deliver func(events.Envelope) bool) func() {
	snapshot(0)
	f.deliver = deliver
	return func() {}
}

type feedJob struct{ job projections.Job }

func (o feedJob) Get(_ context.Context, id string) (projections.Job, bool, error) {
	return o.job, id == o.job.ID, nil
}
func (o feedJob) List(context.Context, projections.Filter) ([]projections.Job, error) {
	return []projections.Job{o.job}, nil
}
func (o feedJob) CountByStatus(context.Context, projections.Filter) (map[string]int, error) {
	return map[string]int{o.job.Status: 1}, nil
}

type feedRow struct{}

func (feedRow) Page(context.Context, string, int, int) ([]projections.Result, int, bool, error) {
	return nil, 1, true, nil
}
func (feedRow) Rows(context.Context, string, []int) ([]projections.Result, error) {
	return []projections.Result{{Document: events.Document{Row: 0, Title: "doc"}, Status: "processing"}}, nil
}

// TestSlowObserverIsCutOff proves a watcher that stops reading is closed
// once it falls feedBuffer messages behind, instead of buffering forever.
func TestSlowObserverIsCutOff(t *testing.T) {
	tap := &fakeTap{}
	job := projections.Job{ID: "j1", Status: events.StatusProcessing, Total: 1}
	s := &Server{d: Deps{Tap: tap, Jobs: feedJob{job}, Results: feedRow{}}}
	w := s.watchJob(job)
	kept := true
	for seq := uint64(1); seq <= feedBuffer+10 && kept; seq++ {
		env, _ := events.New("j1", events.Worker("w"), events.DocumentStarted{Row: 0, Attempt: 1})
		env.Seq = seq
		kept = tap.deliver(env)
	}
	if kept || !w.overflow.Load() {
		t.Fatalf("a watcher that never reads was not cut off (kept=%v)", kept)
	}
	// Everything buffered is still delivered, then the follower reports
	// the overflow so the handler can close with 1013.
	sent := 0
	send := func(msg []byte) error {
		var m map[string]any
		if err := json.Unmarshal(msg, &m); err != nil {
			return err
		}
		sent++
		return nil
	}
	slow, err := w.follow(context.Background(), catchupVia(send), send, make(chan struct{}), func() error { return nil })
	if !slow || err != nil || sent != feedBuffer+1 { // catchup + the buffered messages
		t.Fatalf("follow: slow=%v err=%v sent=%d", slow, err, sent)
	}
}

// TestObserverOfAFinishedJobGetsCatchupAndTerminal covers a watcher that
// connects after the end: catchup, the terminal message, then the end.
func TestObserverOfAFinishedJobGetsCatchupAndTerminal(t *testing.T) {
	job := projections.Job{ID: "j2", Status: events.StatusCompleted, Total: 1, Processed: 1}
	s := &Server{d: Deps{Tap: &fakeTap{}, Jobs: feedJob{job}, Results: feedRow{}}}
	w := s.watchJob(job)
	var types []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	send := func(msg []byte) error {
		var m map[string]any
		if err := json.Unmarshal(msg, &m); err != nil {
			return err
		}
		types = append(types, m["type"].(string))
		return nil
	}
	slow, err := w.follow(ctx, catchupVia(send), send, make(chan struct{}), func() error { return nil })
	if slow || err != nil || len(types) != 2 || types[0] != "catchup" || types[1] != "completed" {
		t.Fatalf("slow=%v err=%v types=%v", slow, err, types)
	}
}

// catchupVia collects the streamed catchup and hands it to send whole.
func catchupVia(send func([]byte) error) func(func(io.Writer) error) error {
	return func(write func(io.Writer) error) error {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return err
		}
		return send(b.Bytes())
	}
}

// TestPagedCatchupAndLiveMessagesShowEachOutcomeOnce: rows are paged out
// after the snapshot, so a row may already show events the watcher will
// also receive live; those live messages are dropped, later ones are not.
func TestPagedCatchupAndLiveMessagesShowEachOutcomeOnce(t *testing.T) {
	res, job := bigJob(t, "ahead", 2, func(int) map[string]any { return nil })
	tap := &multiTap{}
	s := &Server{d: Deps{Tap: tap, Jobs: feedJob{job}, Results: res}}
	w := s.watchJob(job) // snapshot at seq 1
	apply := func(seq uint64, ev events.Event) {
		env, err := events.New(job.ID, events.Worker("w"), ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Seq = seq
		if err := res.Apply(env); err != nil {
			t.Fatal(err)
		}
		tap.mu.Lock()
		for _, d := range tap.taps {
			d(env)
		}
		tap.mu.Unlock()
	}
	apply(2, events.DocumentStarted{Row: 0, Attempt: 1})
	apply(3, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"x"}})
	var got []map[string]any
	send := func(msg []byte) error {
		var m map[string]any
		if err := json.Unmarshal(msg, &m); err != nil {
			return err
		}
		got = append(got, m)
		return nil
	}
	// The catchup is paged now, after seqs 2 and 3 were applied.
	var cb bytes.Buffer
	if err := w.writeCatchup(&cb); err != nil {
		t.Fatal(err)
	}
	apply(4, events.DocumentStarted{Row: 1, Attempt: 1})
	apply(5, events.JobCompleted{Processed: 1})
	slow, err := w.follow(context.Background(), func(func(io.Writer) error) error { return send(cb.Bytes()) },
		send, make(chan struct{}), func() error { return nil })
	if slow || err != nil || len(got) != 3 {
		t.Fatalf("slow=%v err=%v messages=%v", slow, err, got)
	}
	rows := got[0]["results"].([]any)
	if got[0]["seq"] != float64(1) || rows[0].(map[string]any)["status"] != "success" {
		t.Fatalf("catchup: %v", got[0])
	}
	if got[1]["row_id"] != float64(1) || got[1]["seq"] != float64(4) || got[2]["type"] != "completed" {
		t.Fatalf("live: %v, want row 1 at seq 4 then completed (row 0's seqs 2 and 3 are in the catchup)", got[1:])
	}
}

// A start and its outcome applied in one batch give one message with the
// outcome, the outcome's: the start's message, rendered from a row
// already past it, showed the outcome a first time.
func TestAnEventTheRowIsPastHasNoMessage(t *testing.T) {
	res, job := bigJob(t, "batch", 1, func(int) map[string]any { return nil })
	s := &Server{d: Deps{Jobs: feedJob{job}, Results: res}}
	var envs []events.Envelope
	for i, ev := range []events.Event{events.DocumentStarted{Row: 0, Attempt: 1}, events.DocumentFailed{Row: 0, Attempt: 1, Error: "boom", Code: "fetch"}} {
		env, err := events.New(job.ID, events.Worker("w"), ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Seq, env.Subject = uint64(i+2), events.DocSubject(job.ID, 0)
		if err := res.Apply(env); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	if msg, _, _ := s.renderNew(envs[0]); msg != nil {
		t.Errorf("the start's message, with the row already failed: %s", msg)
	}
	msg, row, _ := s.renderNew(envs[1])
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil || row != 0 || m["status"] != "failed" || m["event"] != events.TypeDocumentFailed {
		t.Fatalf("the outcome's message: %s (%v)", msg, err)
	}
}
