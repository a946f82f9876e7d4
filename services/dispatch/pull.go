package dispatch

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events/jsstore"
)

// pullMessages reads a durable consumer with the log readers' heartbeat
// (jsstore.PullHeartbeat): a pull request lost on the way (a cluster node
// that does not know the consumer yet drops it) is noticed after two
// missed heartbeats, about 2 s, where the client's default (30 s) left a
// dispatcher or the webhooks standing for a minute.
func pullMessages(cons jetstream.Consumer) (jetstream.MessagesContext, error) {
	return cons.Messages(jetstream.PullHeartbeat(jsstore.PullHeartbeat))
}

// nextMsg is the next message of it. A missed heartbeat is not a failure:
// the iterator has forgotten the pull it was waiting on, and the next call
// makes a new one (slow heartbeats under load, an election, or a lost pull
// all end the same way), so only a debug line says so.
func nextMsg(ctx context.Context, it jetstream.MessagesContext, log *slog.Logger, loop string) (jetstream.Msg, error) {
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if errors.Is(err, jetstream.ErrNoHeartbeat) && ctx.Err() == nil {
			log.Debug(loop+": missed heartbeats; pulling again", "err", err)
			continue
		}
		return msg, err
	}
}
