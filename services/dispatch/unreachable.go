package dispatch

import (
	"context"
	"log/slog"
	"sync"

	"github.com/tagstream/tagstream/events"
	jobpkg "github.com/tagstream/tagstream/services/job"
	"github.com/tagstream/tagstream/services/pipeline"
)

// streaks counts, per job, the documents in a row whose model call could
// not connect. Each process counts its own: with many processes a dead
// endpoint costs at most UnreachableLimit documents' calls per process
// before the first of them stops the job, and nothing is ever burned.
type streaks struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *streaks) add(jobID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[jobID]++
	return s.n[jobID]
}

func (s *streaks) reset(jobID string) {
	s.mu.Lock()
	delete(s.n, jobID)
	s.mu.Unlock()
}

// unreachable handles a document whose model endpoint could not be
// reached: it gets no outcome and goes back to the queue, and once
// enough documents in a row did the same, the job is paused or failed as
// services/job decides.
func (w *Worker) unreachable(ctx context.Context, t task, f *pipeline.Failure, log *slog.Logger) settle {
	streak := w.streaks.add(t.JobID)
	log.Warn("worker: model unreachable or refusing; document back to the queue", "code", f.Code, "streak", streak, "delivery", t.deliveries, "reason", f.Reason)
	if streak < jobpkg.UnreachableLimit {
		return settleLater
	}
	err := jobpkg.WithRetry(ctx, 10, func() error {
		job, err := jobpkg.LoadFull(ctx, w.store, t.JobID)
		if err != nil {
			return err
		}
		ev, ok := job.DecideUnreachable(t.Attempt, streak, f.Code, f.Reason)
		if !ok {
			return nil
		}
		env, err := events.New(t.JobID, events.System, ev)
		if err != nil {
			return err
		}
		if _, err := w.store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(t.JobID), Seq: job.ControlSeq}); err != nil {
			return err
		}
		log.Warn("worker: stopped the job: model unreachable or refusing", "event", ev.EventType(), "code", f.Code, "reason", f.Reason)
		// Resumed, the job gets a fresh streak: the documents after the
		// resume are the ones to tell whether the model is back, not one
		// more release on top of the streak that paused it.
		w.streaks.reset(t.JobID)
		return nil
	})
	if err != nil {
		log.Error("worker: stop job with an unreachable model", "err", err)
	}
	return settleLater
}
