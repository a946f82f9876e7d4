// Package jsstore is the events.Store on a NATS JetStream stream: the only
// place that knows how the log maps onto JetStream (the stream, Msg-Id
// dedup, expected-last-sequence checks, ordered consumers) and which NATS
// errors mean "the log cannot be reached now" (events.ErrUnavailable).
package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
)

// Store is the events.Store on a NATS JetStream stream.
type Store struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

var _ events.Store = (*Store)(nil)

// Options tune the event stream when it is created.
type Options struct {
	Replicas   int           // 1 for a single server, 3 on a 3-node cluster
	Duplicates time.Duration // dedup window for idempotent appends
}

// Open creates the event stream if it is missing (or updates its
// configuration) and returns a store on it.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Duplicates <= 0 {
		opts.Duplicates = 10 * time.Minute
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        events.Stream,
		Description: "Tagstream job events: the system of record",
		Subjects:    events.StreamSubjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    opts.Replicas,
		Duplicates:  opts.Duplicates,
		AllowDirect: true,
		DenyDelete:  true, // the log is an audit trail
		DenyPurge:   true,
	})
	if err != nil {
		return nil, wrap(err, "events: create stream %s", events.Stream)
	}
	return &Store{js: js, stream: stream}, nil
}

// Append implements Store.
func (s *Store) Append(ctx context.Context, env events.Envelope, expect *events.Expect) (uint64, error) {
	if env.Subject == "" || env.ID == "" {
		return 0, errors.New("events: envelope without subject or id")
	}
	data, err := json.Marshal(env)
	if err != nil {
		return 0, fmt.Errorf("events: encode envelope: %w", err)
	}
	msg := &nats.Msg{Subject: env.Subject, Data: data, Header: nats.Header{}}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(env.ID), jetstream.WithExpectStream(events.Stream)}
	if expect != nil {
		opts = append(opts, jetstream.WithExpectLastSequenceForSubject(expect.Seq, expect.Subject))
	}
	ack, err := s.js.PublishMsg(ctx, msg, opts...)
	if err == nil {
		return ack.Sequence, nil
	}
	if !isWrongLastSequence(err) {
		return 0, wrap(err, "events: append %s", env.Type)
	}
	// A retried append of an event that is already stored fails the
	// sequence check on a single server before dedup runs: if the newest
	// event on the expected subject is this very envelope, it succeeded.
	if last, lerr := s.Last(ctx, expect.Subject); lerr == nil && last.ID == env.ID {
		return last.Seq, nil
	}
	return 0, events.ErrConflict
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == 10071 || apiErr.ErrorCode == 10164
	}
	return false
}

// Last implements Store.
func (s *Store) Last(ctx context.Context, subject string) (events.Envelope, error) {
	raw, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.Envelope{}, events.ErrNotFound
	}
	if err != nil {
		return events.Envelope{}, wrap(err, "events: last on %s", subject)
	}
	return events.FromLog(raw.Data, raw.Sequence, raw.Subject), nil
}

// LastSeq implements Store.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, wrap(err, "events: stream info")
	}
	last := info.State.LastSeq
	if last == 0 {
		return 0, nil
	}
	if raw, err := s.stream.GetMsg(ctx, last); err == nil && strings.HasPrefix(raw.Subject, jobsPrefix) {
		return last, nil
	}
	// The newest message is an organisation's event, which no job reader
	// sees: waiting for it kept /api/ready at 503 after a restart, and
	// every catch-up waiting, until the next job event.
	raw, err := s.stream.GetLastMsgForSubject(ctx, events.SubjectAll)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap(err, "events: last job event")
	}
	return raw.Sequence, nil
}

// Read implements Store.
func (s *Store) Read(ctx context.Context, filter string, from uint64, fn func(events.Envelope) error) error {
	// The newest matching event marks the end, so an empty or fully read
	// range returns at once instead of waiting for events that never come.
	raw, err := s.stream.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return wrap(err, "events: read %s", filter)
	}
	end := raw.Sequence
	if from > end {
		return nil
	}
	return s.consume(ctx, filter, from, func(env events.Envelope) (bool, error) {
		if err := fn(env); err != nil {
			return false, err
		}
		return env.Seq < end, nil
	})
}

// Follow implements Store.
func (s *Store) Follow(ctx context.Context, filter string, from uint64, fn func(events.Envelope) error) error {
	return s.consume(ctx, filter, from, func(env events.Envelope) (bool, error) {
		return true, fn(env)
	})
}

// PullHeartbeat is how often the server confirms a reader's waiting pull.
// A pull can be lost, for one on a cluster node that the consumer's
// interest has not reached yet: the reader then gets nothing, and learns
// only when two heartbeats are missed and it pulls again. With the
// default for an ordered consumer, 5 s, that is 10 s of a read model
// standing still (the timings of a CI failure of the cluster test match
// it); at 1 s, about two (TestFollowRecoversFromALostPull).
const PullHeartbeat = time.Second

// jobsPrefix is what every subject events.SubjectAll matches starts with.
var jobsPrefix = strings.TrimSuffix(events.SubjectAll, ">")

// consume feeds events from an ordered consumer to fn until fn says stop,
// fails, or ctx is done. Ordered consumers recreate themselves after
// reconnects and gaps, so the sequence seen by fn never skips or repeats.
func (s *Store) consume(ctx context.Context, filter string, from uint64, fn func(events.Envelope) (bool, error)) error {
	cfg := jetstream.OrderedConsumerConfig{InactiveThreshold: time.Minute}
	// All job events are read unfiltered and the stream's few other
	// events (organisations') passed over here: the server matches every
	// message against a filter (msgBlock.firstMatching), which made
	// reading the whole log for a rebuild several times dearer on the
	// server than a raw consumer's read of the same log.
	whole := filter == events.SubjectAll
	if !whole {
		cfg.FilterSubjects = []string{filter}
	}
	if from > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	cons, err := s.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return wrap(err, "events: consumer on %s", filter)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000), jetstream.PullHeartbeat(PullHeartbeat))
	if err != nil {
		return wrap(err, "events: consume %s", filter)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return wrap(err, "events: next on %s", filter)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return wrap(err, "events: metadata")
		}
		if whole && !strings.HasPrefix(msg.Subject(), jobsPrefix) {
			continue
		}
		// A message that is not an event reaches fn as one its readers skip.
		more, err := fn(events.FromLog(msg.Data(), meta.Sequence.Stream, msg.Subject()))
		if err != nil || !more {
			return err
		}
	}
}
