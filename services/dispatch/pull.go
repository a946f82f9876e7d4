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
// missed heartbeats, about 2 s. With the client's default for a pull
// consumer (15 s, so noticed after 30 s) and the loop then stopped and
// restarted, a dispatcher or the webhooks stood for about a minute.
func pullMessages(cons jetstream.Consumer) (jetstream.MessagesContext, error) {
	return cons.Messages(jetstream.PullHeartbeat(jsstore.PullHeartbeat))
}

// nextMsg is the next message of it. A missed heartbeat is not a failure:
// the iterator has forgotten the pull it was waiting on, and the next call
// makes a new one (slow heartbeats under load, an election, or a lost pull
// all end the same way), so only a debug line says so. Heartbeats missed
// maxMissedPulls times in a row are: the consumer may be gone (a pull to
// it is answered by no one), and the caller's restart recreates it.
func nextMsg(ctx context.Context, it jetstream.MessagesContext, log *slog.Logger, loop string) (jetstream.Msg, error) {
	for missed := 1; ; missed++ {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if errors.Is(err, jetstream.ErrNoHeartbeat) && ctx.Err() == nil && missed < maxMissedPulls {
			log.Debug(loop+": missed heartbeats; pulling again", "err", err)
			continue
		}
		return msg, err
	}
}

// maxMissedPulls is how many pulls in a row may go unanswered (about 2 s
// each) before the loop gives up on its consumer.
const maxMissedPulls = 5
