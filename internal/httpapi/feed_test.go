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

func (o feedJob) Get(id string) (projections.Job, bool)     { return o.job, id == o.job.ID }
func (o feedJob) List(projections.Filter) []projections.Job { return []projections.Job{o.job} }

type feedRow struct{}

func (feedRow) Page(string, int, int) ([]projections.Result, int, bool) { return nil, 1, true }
func (feedRow) Rows(string, []int) []projections.Result {
	return []projections.Result{{Document: events.Document{Row: 0, Title: "doc"}, Status: "processing"}}
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
