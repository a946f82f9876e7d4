// Package dispatch is the JetStream-aware part of Tagstream's command
// side: the dispatcher that turns job control events into tasks, the task
// queue, and the workers that schedule tasks through the tagging pipeline
// and append each document's outcome. Every decision about a job is taken
// by package job on the log; this package only moves work.
package dispatch

import (
	"context"
	"errors"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// withRetry runs a read-check-append cycle again when a concurrent append
// won the race, so the check always sees the state it appends on.
func withRetry(ctx context.Context, attempts int, fn func() error) error {
	var err error
	for i := 0; i < attempts; i++ {
		err = fn()
		if !errors.Is(err, events.ErrConflict) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return apperr.New(apperr.Conflict, "the job changed concurrently too often; try again")
}
