package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	fastjson "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStreamStore is the Store on a NATS JetStream stream.
type JetStreamStore struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

var _ Store = (*JetStreamStore)(nil)

// StreamOptions tune the event stream when it is created.
type StreamOptions struct {
	Replicas   int           // 1 for a single server, 3 on a 3-node cluster
	Duplicates time.Duration // dedup window for idempotent appends
}

// OpenJetStream creates the event stream if it is missing (or updates its
// configuration) and returns a store on it.
func OpenJetStream(ctx context.Context, js jetstream.JetStream, opts StreamOptions) (*JetStreamStore, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Duplicates <= 0 {
		opts.Duplicates = 10 * time.Minute
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        Stream,
		Description: "Tagstream job events: the system of record",
		Subjects:    []string{SubjectAll},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    opts.Replicas,
		Duplicates:  opts.Duplicates,
		AllowDirect: true,
		DenyDelete:  true, // the log is an audit trail
		DenyPurge:   true,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", Stream, err)
	}
	return &JetStreamStore{js: js, stream: stream}, nil
}

// Append implements Store.
func (s *JetStreamStore) Append(ctx context.Context, env Envelope, expect *Expect) (uint64, error) {
	if env.Subject == "" || env.ID == "" {
		return 0, errors.New("events: envelope without subject or id")
	}
	data, err := json.Marshal(env)
	if err != nil {
		return 0, fmt.Errorf("events: encode envelope: %w", err)
	}
	msg := &nats.Msg{Subject: env.Subject, Data: data, Header: nats.Header{}}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(env.ID), jetstream.WithExpectStream(Stream)}
	if expect != nil {
		opts = append(opts, jetstream.WithExpectLastSequenceForSubject(expect.Seq, expect.Subject))
	}
	ack, err := s.js.PublishMsg(ctx, msg, opts...)
	if err == nil {
		return ack.Sequence, nil
	}
	if !isWrongLastSequence(err) {
		return 0, fmt.Errorf("events: append %s: %w", env.Type, err)
	}
	// A retried append of an event that is already stored fails the
	// sequence check on a single server before dedup runs: if the newest
	// event on the expected subject is this very envelope, it succeeded.
	if last, lerr := s.Last(ctx, expect.Subject); lerr == nil && last.ID == env.ID {
		return last.Seq, nil
	}
	return 0, ErrConflict
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == 10071 || apiErr.ErrorCode == 10164
	}
	return false
}

// Last implements Store.
func (s *JetStreamStore) Last(ctx context.Context, subject string) (Envelope, error) {
	raw, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Envelope{}, ErrNotFound
	}
	if err != nil {
		return Envelope{}, fmt.Errorf("events: last on %s: %w", subject, err)
	}
	return Unmarshal(raw.Data, raw.Sequence, raw.Subject)
}

// LastSeq implements Store.
func (s *JetStreamStore) LastSeq(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("events: stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// Read implements Store.
func (s *JetStreamStore) Read(ctx context.Context, filter string, from uint64, fn func(Envelope) error) error {
	// The newest matching event marks the end, so an empty or fully read
	// range returns at once instead of waiting for events that never come.
	raw, err := s.stream.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("events: read %s: %w", filter, err)
	}
	end := raw.Sequence
	if from > end {
		return nil
	}
	return s.consume(ctx, filter, from, func(env Envelope) (bool, error) {
		if err := fn(env); err != nil {
			return false, err
		}
		return env.Seq < end, nil
	})
}

// Follow implements Store.
func (s *JetStreamStore) Follow(ctx context.Context, filter string, from uint64, fn func(Envelope) error) error {
	return s.consume(ctx, filter, from, func(env Envelope) (bool, error) {
		return true, fn(env)
	})
}

// consume feeds events from an ordered consumer to fn until fn says stop,
// fails, or ctx is done. Ordered consumers recreate themselves after
// reconnects and gaps, so the sequence seen by fn never skips or repeats.
func (s *JetStreamStore) consume(ctx context.Context, filter string, from uint64, fn func(Envelope) (bool, error)) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, InactiveThreshold: time.Minute}
	if from > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	cons, err := s.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("events: consumer on %s: %w", filter, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return fmt.Errorf("events: consume %s: %w", filter, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("events: next on %s: %w", filter, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("events: metadata: %w", err)
		}
		env, err := Unmarshal(msg.Data(), meta.Sequence.Stream, msg.Subject())
		if err != nil {
			return err
		}
		more, err := fn(env)
		if err != nil || !more {
			return err
		}
	}
}

// Unmarshal parses a stored message into an envelope with its sequence and
// subject, for readers that consume the stream directly.
func Unmarshal(data []byte, seq uint64, subject string) (Envelope, error) {
	var env Envelope
	if err := fastjson.Unmarshal(data, &env); err != nil {
		return Envelope{}, fmt.Errorf("events: decode seq %d on %s: %w", seq, subject, err)
	}
	env.Seq, env.Subject = seq, subject
	return env, nil
}
