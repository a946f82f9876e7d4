package lease

import (
	"strconv"

	"github.com/nats-io/nats.go"
)

// CommitSubject is where the projections' holder announces each commit,
// so the processes following it see new data without waiting to poll.
const CommitSubject = "tagstream.projections.committed"

// Announcer publishes commits on a core NATS subject (best effort:
// followers poll as well) and signals those it hears.
type Announcer struct {
	nc  *nats.Conn
	sub *nats.Subscription
	ch  chan struct{}
}

// NewAnnouncer subscribes to CommitSubject on nc.
func NewAnnouncer(nc *nats.Conn) (*Announcer, error) {
	a := &Announcer{nc: nc, ch: make(chan struct{}, 1)}
	sub, err := nc.Subscribe(CommitSubject, func(*nats.Msg) {
		select {
		case a.ch <- struct{}{}:
		default: // one pending signal is enough: the follower rereads all
		}
	})
	if err != nil {
		return nil, err
	}
	a.sub = sub
	return a, nil
}

// Announce publishes a commit up to seq.
func (a *Announcer) Announce(seq uint64) {
	_ = a.nc.Publish(CommitSubject, strconv.AppendUint(nil, seq, 10))
}

// Announced is signalled when any process announced a commit.
func (a *Announcer) Announced() <-chan struct{} { return a.ch }

// Close unsubscribes.
func (a *Announcer) Close() { _ = a.sub.Unsubscribe() }
