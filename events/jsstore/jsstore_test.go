package jsstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/events/storetest"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) events.Store {
		conn := natstest.Start(t, "")
		s, err := jsstore.Open(context.Background(), conn.JS, jsstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// With the server gone, every call ends in events.ErrUnavailable (which
// the API turns into 503) instead of a NATS error only NATS code knows.
func TestServerGoneIsUnavailable(t *testing.T) {
	conn := natstest.Start(t, "")
	s, err := jsstore.Open(context.Background(), conn.JS, jsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env, _ := events.New("j", events.System, events.JobStarted{})
	if _, err := s.Append(context.Background(), env, nil); err != nil {
		t.Fatal(err)
	}
	conn.Server.Shutdown()
	conn.Server.WaitForShutdown()
	call := func(name string, fn func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := fn(ctx); !errors.Is(err, events.ErrUnavailable) {
			t.Errorf("%s with the server gone: %v, want ErrUnavailable", name, err)
		}
	}
	env2, _ := events.New("j", events.System, events.JobPaused{})
	call("Append", func(ctx context.Context) error { _, err := s.Append(ctx, env2, nil); return err })
	call("Last", func(ctx context.Context) error { _, err := s.Last(ctx, events.ControlSubject("j")); return err })
	call("LastSeq", func(ctx context.Context) error { _, err := s.LastSeq(ctx); return err })
	call("Read", func(ctx context.Context) error {
		return s.Read(ctx, events.SubjectAll, 1, func(events.Envelope) error { return nil })
	})
}

func TestIsUnavailable(t *testing.T) {
	for _, err := range []error{
		nats.ErrNoResponders, fmt.Errorf("publish: %w", nats.ErrTimeout), nats.ErrConnectionClosed,
		&jetstream.APIError{Code: 503, Description: "JetStream system temporarily unavailable"},
	} {
		if !jsstore.IsUnavailable(err) {
			t.Errorf("%v: not unavailable", err)
		}
	}
	for _, err := range []error{errors.New("bad request"), &jetstream.APIError{Code: 400}, jetstream.ErrMsgNotFound} {
		if jsstore.IsUnavailable(err) {
			t.Errorf("%v: unavailable", err)
		}
	}
}
