package jsstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
)

// unavailableErrs are the NATS and JetStream errors that mean "the log
// cannot answer now" rather than "this request is wrong".
var unavailableErrs = []error{
	nats.ErrConnectionClosed, nats.ErrConnectionDraining, nats.ErrConnectionReconnecting,
	nats.ErrDisconnected, nats.ErrNoServers, nats.ErrTimeout, nats.ErrNoResponders,
	jetstream.ErrNoHeartbeat, jetstream.ErrNoStreamResponse, jetstream.ErrConnectionClosed,
	jetstream.ErrServerShutdown,
}

// IsUnavailable reports whether err is a NATS error meaning the server
// cannot be reached or cannot answer now.
func IsUnavailable(err error) bool {
	for _, target := range unavailableErrs {
		if errors.Is(err, target) {
			return true
		}
	}
	// JetStream's own 503s: "JetStream system temporarily unavailable",
	// no meta leader, JetStream not enabled.
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusServiceUnavailable
}

// wrap adds context to err and marks it events.ErrUnavailable when NATS
// could not answer, or the caller's deadline ran out waiting for it (a
// request to a vanished server blocks until then).
func wrap(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w: %w", msg, events.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}
