package job

import (
	"context"
	"errors"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// WithRetry runs a load-decide-append cycle again when a concurrent append
// won the race (the expected sequence moved), so every decision is taken
// on the state it appends on. Commands and workers share it.
func WithRetry(ctx context.Context, attempts int, fn func() error) error {
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
