package datakeys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// checkSubject holds a value sealed under the master key by the first
// process of a cluster. A process started with another master key (a
// worker on a machine without TAGSTREAM_SECRETS_KEY, say) would fail to
// unwrap every job's key and leave its documents pending; it stops at
// start instead, with a message that says why. Job ids never begin with
// an underscore, so no job's key lives here.
const checkSubject = "datakeys._master"

var checkAAD = []byte("tagstream master key check")

// ErrOtherMasterKey means the process's master key is not the cluster's.
var ErrOtherMasterKey = errors.New("datakeys: this process's master key (TAGSTREAM_SECRETS_KEY, else DATA_DIR/secrets.key) " +
	"is not the one the cluster's data keys are wrapped under: give every process the same TAGSTREAM_SECRETS_KEY")

// checkMaster records the master key's check value if none is stored yet
// and otherwise verifies that this process's master key opens it.
func (k *Keys) checkMaster(ctx context.Context) error {
	// A stream just created on a cluster may have no leader yet ("no
	// responders"): such errors are retried for a while, as the stream
	// elects one.
	deadline := time.Now().Add(checkPatience)
	var last error
	for wait := 50 * time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, time.Second) {
		msg, err := k.stream.GetLastMsgForSubject(ctx, checkSubject)
		switch {
		case err == nil:
			if _, err := k.master.Open(msg.Data, checkAAD); err != nil {
				return ErrOtherMasterKey
			}
			return nil
		case errors.Is(err, jetstream.ErrMsgNotFound):
			_, err = k.js.PublishMsg(ctx, &nats.Msg{Subject: checkSubject, Data: k.master.Seal([]byte("ok"), checkAAD)},
				jetstream.WithExpectLastSequenceForSubject(0, checkSubject))
			if err == nil || isWrongLastSequence(err) {
				continue // stored now, by us or by a process that raced us: read it back
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("datakeys: master key check: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("datakeys: master key check: %w", last)
}

// checkPatience bounds how long the check waits for the stream's leader.
const checkPatience = 30 * time.Second
