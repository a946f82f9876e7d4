package events_test

import (
	"context"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/storetest"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
)

func TestJetStreamStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) events.Store {
		conn := natstest.Start(t, "")
		s, err := events.OpenJetStream(context.Background(), conn.JS, events.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
