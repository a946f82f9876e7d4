// Package natstest starts a real embedded JetStream server for tests, in a
// temporary directory that is removed when the test ends.
package natstest

import (
	"context"
	"testing"

	"github.com/tagstream/tagstream/internal/natsx"
)

// Start returns a connection to a fresh embedded JetStream server. Pass dir
// to reuse a store across restarts; "" means a new temporary directory.
func Start(t testing.TB, dir string) *natsx.Conn {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	c, err := natsx.Connect(context.Background(), natsx.Config{StoreDir: dir, Name: t.Name()})
	if err != nil {
		t.Fatalf("start embedded nats: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
