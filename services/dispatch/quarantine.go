package dispatch

import (
	"context"
	"log/slog"
	"sync"

	"github.com/tagstream/tagstream/events"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// quarantine fails task t's document with code "poison" when its attempt
// has been started too often without an outcome (package job decides);
// last is the document's last event, a DocumentStarted. It reports
// whether it did.
//
// The count comes from the log, not from JetStream's delivery count: the
// log is what survives every kind of death (the task consumer is deleted
// with its job and recreated by a redispatch, resetting its counters),
// and it counts only starts that really began tagging, never a task given
// back before its start (a paused job, a secret store hiccup).
func (w *Worker) quarantine(ctx context.Context, t task, last events.Envelope, log *slog.Logger) (bool, error) {
	var evs []events.Envelope
	if err := w.store.Read(ctx, events.DocSubject(t.JobID, t.Document.Row), 1, func(env events.Envelope) error {
		evs = append(evs, env)
		return nil
	}); err != nil {
		return false, err
	}
	ev, ok := jobpkg.FoldDoc(evs).Quarantine(t.Document.Row, t.Attempt)
	if !ok {
		return false, nil
	}
	env, err := events.New(t.JobID, w.actor, ev)
	if err != nil {
		return false, err
	}
	// Guarded by the last start: a worker that is in fact still alive and
	// records its outcome first wins, and then this task is stale anyway.
	_, err = w.store.Append(ctx, env, &events.Expect{Subject: events.DocSubject(t.JobID, t.Document.Row), Seq: last.Seq})
	if err != nil {
		return false, err // a conflict: the caller looks again
	}
	log.Error("worker: quarantined a document that was in flight during repeated process deaths",
		"code", ev.Code, "starts", jobpkg.PoisonAfter, "title", t.Document.Title)
	w.cfg.Metrics.DocumentDone("failed", ev.Code, 0)
	return true, nil
}

// hold is the right to tag a document in this process: shared for an
// ordinary document, exclusive for a suspect one (its last start of the
// attempt has no outcome, so the process running it probably died). A
// suspect runs alone, so if it kills the process again no bystander dies
// with it and has its own count raised: only the guilty document reaches
// PoisonAfter. It is taken before the DocumentStarted is appended, so a
// document waiting for it has not started in the log.
type hold struct {
	alone  bool
	unlock func()
}

func (w *Worker) hold(alone bool, log *slog.Logger) *hold {
	if !alone {
		w.isolate.RLock()
		return &hold{unlock: sync.OnceFunc(w.isolate.RUnlock)}
	}
	log.Info("worker: a document was in flight when a process died; running it alone")
	// RWMutex lets no new reader in while a writer waits, so the suspect
	// waits only for the documents already running.
	w.isolate.Lock()
	return &hold{alone: true, unlock: sync.OnceFunc(w.isolate.Unlock)}
}

func (h *hold) release() {
	if h != nil {
		h.unlock()
	}
}
