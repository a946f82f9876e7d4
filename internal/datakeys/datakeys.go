// Package datakeys keeps one data key per job (envelope encryption): a
// random AES-256 key, stored wrapped under the master key of
// internal/secrets in a JetStream stream, cached in memory. Destroying a
// job's key crypto-shreds its document data in the event log (see
// events/seal.go): the sealed blobs stay, nobody can open them.
//
// The keys live in a plain stream with one message per subject (a
// key-value bucket in all but name) because key-value buckets refuse
// message deletes, and only Stream.SecureDeleteMsg overwrites the wrapped
// key's bytes in the store files: a purge or an overwrite leaves them on
// disk until the block is compacted. A destroyed key is replaced by a
// tombstone, so it is never created again for that job; every process
// watches the stream and drops destroyed keys from its cache.
package datakeys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// Stream holds the wrapped data keys, subject datakeys.<job id>.
const Stream = "TAGSTREAM_DATA_KEYS"

func subject(jobID string) string { return "datakeys." + jobID }

// tombstone replaces a destroyed key.
var tombstone = []byte("destroyed")

// ErrErased means the job's key was destroyed: nothing can be sealed for
// it any more.
var ErrErased = apperr.New(apperr.Conflict, "the job was erased: its document data can no longer be written")

// Keys is the data-key store of one process.
type Keys struct {
	stream jetstream.Stream
	js     jetstream.JetStream
	master *Cipher
	watch  jetstream.ConsumeContext

	mu    sync.Mutex
	cache map[string]*Cipher // nil value: destroyed
}

// Open creates the stream if needed and starts watching it. master is the
// 32-byte master key (secrets.LoadOrCreateKey).
func Open(ctx context.Context, js jetstream.JetStream, replicas int, master []byte) (*Keys, error) {
	m, err := NewCipher(master)
	if err != nil {
		return nil, err
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: Stream, Description: "per-job data keys, wrapped under the master key",
		Subjects: []string{"datakeys.*"}, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
		MaxMsgsPerSubject: 1, AllowDirect: true, DenyPurge: true,
	})
	if err != nil {
		return nil, fmt.Errorf("datakeys: stream: %w", err)
	}
	k := &Keys{stream: st, js: js, master: m, cache: map[string]*Cipher{}}
	if err := k.checkMaster(ctx); err != nil {
		return nil, err
	}
	cons, err := js.OrderedConsumer(ctx, Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"datakeys.*"}, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("datakeys: watch: %w", err)
	}
	// Any change to a job's key (a destruction, made by any process)
	// drops it from the cache: the next use reads the stream again.
	if k.watch, err = cons.Consume(func(msg jetstream.Msg) {
		k.mu.Lock()
		delete(k.cache, msg.Subject()[len("datakeys."):])
		k.mu.Unlock()
	}, jetstream.PullHeartbeat(time.Second)); err != nil { // a lost pull (see jsstore.PullHeartbeat) costs 2 s, not 10
		return nil, fmt.Errorf("datakeys: watch: %w", err)
	}
	return k, nil
}

// Close stops the watch.
func (k *Keys) Close() { k.watch.Stop() }

func wrapAAD(jobID string) []byte { return []byte("tagstream data key\x00" + jobID) }

// load reads the job's key: (cipher, true) live, (nil, true) destroyed,
// (nil, false) never created.
func (k *Keys) load(ctx context.Context, jobID string) (*Cipher, bool, uint64, error) {
	k.mu.Lock()
	c, ok := k.cache[jobID]
	k.mu.Unlock()
	if ok {
		return c, true, 0, nil
	}
	msg, err := k.stream.GetLastMsgForSubject(ctx, subject(jobID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, false, 0, nil
	}
	if err != nil {
		return nil, false, 0, fmt.Errorf("%w: data key: %v", events.ErrUnavailable, err)
	}
	if !bytes.Equal(msg.Data, tombstone) {
		raw, err := k.master.Open(msg.Data, wrapAAD(jobID))
		if err != nil {
			return nil, false, 0, fmt.Errorf("datakeys: job %s: the key does not unwrap (another master key?)", jobID)
		}
		if c, err = NewCipher(raw); err != nil {
			return nil, false, 0, err
		}
	}
	k.remember(jobID, c)
	return c, true, msg.Sequence, nil
}

// ForRead implements sealed.Keys: nil when the key is gone.
func (k *Keys) ForRead(ctx context.Context, jobID string) (events.Cipher, error) {
	c, _, _, err := k.load(ctx, jobID)
	if err != nil || c == nil {
		return nil, err
	}
	return c, nil
}

// ForAppend implements sealed.Keys: the job's key, created on first use.
func (k *Keys) ForAppend(ctx context.Context, jobID string) (events.Cipher, error) {
	for range 3 {
		c, found, _, err := k.load(ctx, jobID)
		switch {
		case err != nil:
			return nil, err
		case found && c == nil:
			return nil, ErrErased
		case found:
			return c, nil
		}
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		wrapped := k.master.Seal(raw, wrapAAD(jobID))
		// Only if the job has no key yet: two processes creating one at
		// once agree on the first.
		_, err = k.js.PublishMsg(ctx, &nats.Msg{Subject: subject(jobID), Data: wrapped},
			jetstream.WithExpectLastSequenceForSubject(0, subject(jobID)))
		if err != nil && !isWrongLastSequence(err) {
			return nil, fmt.Errorf("%w: create data key: %v", events.ErrUnavailable, err)
		}
	}
	return nil, errors.New("datakeys: the job's key kept changing")
}

// Digest returns msg's HMAC-SHA256 under a key derived from the job's data
// key (created on first use, as by ForAppend), hex-encoded: a start
// request's digest in the log confirms a guess at the request only while
// the job's key lives, so an erasure shreds it with the documents.
func (k *Keys) Digest(ctx context.Context, jobID string, msg []byte) (string, error) {
	c, err := k.ForAppend(ctx, jobID)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(c.(*Cipher).MAC(msg)), nil
}

// Exists reports whether the job has a live key (false: never had one,
// as jobs logged before sealing, or it was destroyed).
func (k *Keys) Exists(ctx context.Context, jobID string) (bool, error) {
	c, _, _, err := k.load(ctx, jobID)
	return c != nil, err
}

// Destroy erases the job's key: its bytes are overwritten in the store
// files, and a tombstone takes its place. Destroying a destroyed key, or
// one that never existed, does nothing.
func (k *Keys) Destroy(ctx context.Context, jobID string) error {
	for range 3 {
		err := k.destroy(ctx, jobID)
		if !errors.Is(err, errRecreated) {
			return err
		}
	}
	return errors.New("datakeys: the job's key kept being recreated")
}

// errRecreated means a key was created between the overwrite and the
// tombstone: destroy it too.
var errRecreated = errors.New("datakeys: key recreated during destroy")

func (k *Keys) destroy(ctx context.Context, jobID string) error {
	msg, err := k.stream.GetLastMsgForSubject(ctx, subject(jobID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: data key: %v", events.ErrUnavailable, err)
	}
	if !bytes.Equal(msg.Data, tombstone) {
		if err := k.stream.SecureDeleteMsg(ctx, msg.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("datakeys: destroy: %w", err)
		}
		_, err = k.js.PublishMsg(ctx, &nats.Msg{Subject: subject(jobID), Data: tombstone},
			jetstream.WithExpectLastSequenceForSubject(0, subject(jobID)))
		if isWrongLastSequence(err) {
			return errRecreated
		}
		if err != nil {
			return fmt.Errorf("datakeys: tombstone: %w", err)
		}
	}
	k.remember(jobID, nil)
	return nil
}

// maxCached bounds the cache (a key costs about a kilobyte): a rebuild
// over many jobs reads each job's events together, so dropping any entry
// when full costs at most one lookup more per job.
const maxCached = 4096

func (k *Keys) remember(jobID string, c *Cipher) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.cache[jobID]; !ok && len(k.cache) >= maxCached {
		for j := range k.cache { // any one: map order is random
			delete(k.cache, j)
			break
		}
	}
	k.cache[jobID] = c
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == 10071 || apiErr.ErrorCode == 10164)
}
