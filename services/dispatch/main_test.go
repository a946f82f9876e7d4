package dispatch_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a
// worker, heartbeat or control watcher that outlives its Run, or a NATS
// connection that was never closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
