package job

import (
	"context"
	"errors"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// errFound stops a read early.
var errFound = errors.New("found")

// Load folds a job's control events (a handful per job, whatever its
// size) up to sequence upTo (0: the end of the log), then looks whether a
// document of the current attempt has started, so a job being tagged is
// "processing" to commands exactly as to the read model. A job nobody
// started is NotFound.
func Load(ctx context.Context, store events.Store, jobID string, upTo uint64) (*State, error) {
	if !events.ValidJobID(jobID) {
		return nil, apperr.New(apperr.NotFound, "job %q not found", jobID)
	}
	s := New(jobID, false)
	err := store.Read(ctx, events.ControlSubject(jobID), 1, func(env events.Envelope) error {
		if upTo > 0 && env.Seq > upTo {
			return errFound
		}
		return skipUnreadable(s.Apply(env))
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, apperr.Wrap(err, "load job")
	}
	if !s.Exists() {
		return nil, apperr.New(apperr.NotFound, "job %q not found", jobID)
	}
	if s.Status != events.StatusPending {
		return s, nil
	}
	// Document events of the current attempt all come after the event that
	// began it; the first one decides.
	err = store.Read(ctx, events.JobSubjects(jobID), s.AttemptSeq+1, func(env events.Envelope) error {
		if upTo > 0 && env.Seq > upTo {
			return errFound
		}
		if _, kind, _, err := events.ParseSubject(env.Subject); err != nil || kind != "doc" {
			return nil
		}
		if err := skipUnreadable(s.Apply(env)); err != nil {
			return err
		}
		if s.Status != events.StatusPending {
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, apperr.Wrap(err, "load job documents")
	}
	return s, nil
}

// LoadFull folds every event of the job, documents included, for the
// decisions that need them (Complete, retry).
func LoadFull(ctx context.Context, store events.Store, jobID string) (*State, error) {
	if !events.ValidJobID(jobID) {
		return nil, apperr.New(apperr.NotFound, "job %q not found", jobID)
	}
	s := New(jobID, true)
	err := store.Read(ctx, events.JobSubjects(jobID), 1, func(env events.Envelope) error {
		return skipUnreadable(s.Apply(env))
	})
	if err != nil {
		return nil, apperr.Wrap(err, "read job history")
	}
	if !s.Exists() {
		return nil, apperr.New(apperr.NotFound, "job %q not found", jobID)
	}
	return s, nil
}

// skipUnreadable lets a load go on past events this build cannot read;
// State.Skipped counts them for the caller to report.
func skipUnreadable(err error) error {
	if errors.Is(err, ErrSkipped) {
		return nil
	}
	return err
}
