package job

import "github.com/tagstream/tagstream/events"

// An outcome that needs no work of the document's own — tags found in the
// content cache for identical bytes, or the outcome of the identical
// source earlier in the same job (a twin) — is recorded without a
// DocumentStarted: there is nothing to be in flight, so nothing a crash
// could leave half done, and every cached document costs one event
// instead of two. The document goes from pending straight to its outcome
// (projections.DocState.Step already allows it).

// Direct is what a worker may do with such an outcome for a task.
type Direct struct {
	Verdict StartVerdict
	// Guard is the document subject's last sequence (0: no event yet):
	// the outcome is appended expecting it, so of two workers holding the
	// same task only one records an outcome, and none lands after another
	// outcome of the attempt.
	Guard uint64
}

// DecideDirect decides whether a task of the given attempt may record an
// outcome without a start now. last is the document's last event (nil
// when it has none). The job must be able to start the attempt (not
// paused, ended or superseded: the same rule as a DocumentStarted), and
// the attempt must not have an outcome already. A start of the attempt
// without an outcome (its process died) is no obstacle: the cached
// outcome ends it, guarded by that start.
func (s *State) DecideDirect(last *events.Envelope, attempt int) Direct {
	if v := s.CanStart(attempt); v != StartNow {
		return Direct{Verdict: v}
	}
	if last == nil {
		return Direct{Verdict: StartNow}
	}
	if TaskStale(*last, attempt) {
		return Direct{Verdict: StartNever}
	}
	return Direct{Verdict: StartNow, Guard: last.Seq}
}
