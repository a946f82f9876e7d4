package jsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
)

// A follower whose pull request was lost gets the log again within a few
// heartbeats: it notices the silence after two missed ones and pulls anew.
// With the client's default heartbeat for ordered consumers (5 s) the
// event below came after about 10 s; with jsstore.PullHeartbeat (1 s),
// after about 2 s. The bound of 6 s tells the two apart with room for a
// loaded machine.
func TestFollowRecoversFromALostPull(t *testing.T) {
	conn := natstest.Start(t, "")
	proxy := natstest.NewPullDropper(conn.Server)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func(js jetstream.JetStream) *jsstore.Store {
		s, err := jsstore.Open(ctx, js, jsstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	writer := open(conn.JS)
	reader := open(proxy.Connect(t))

	proxy.Arm()
	got := make(chan events.Envelope, 1)
	go func() {
		_ = reader.Follow(ctx, events.SubjectAll, 1, func(env events.Envelope) error {
			got <- env
			return nil
		})
	}()
	select {
	case <-proxy.Dropped:
	case <-ctx.Done():
		t.Fatal("the follower never pulled")
	}
	env, _ := events.New("batch-1-lost", events.System, events.JobPaused{})
	if _, err := writer.Append(ctx, env, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.ID != env.ID {
			t.Fatalf("followed %s, want %s", e.ID, env.ID)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("the follower whose pull was lost still had nothing 6 s after the append")
	}
}
