package dispatch

import (
	"context"
	"time"
)

// settleTimeout bounds a step that must outlive the caller's cancellation
// (recording an outcome that was already computed, acking its task) so a
// shutdown finishes it, but never waits on an unreachable NATS for ever.
const settleTimeout = 10 * time.Second

// detached returns a context that ignores ctx's cancellation (keeping its
// values) and ends after settleTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
}
