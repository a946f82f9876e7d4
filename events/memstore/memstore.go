// Package memstore is an events.Store in memory, for tests of commands and
// read models that need the Store contract but not JetStream. It passes the
// same conformance suite (events/storetest) as the JetStream store, so a
// test that passes on it means the same thing. Nothing survives the
// process: never use it to serve.
package memstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/tagstream/tagstream/events"
)

// Store is the in-memory log.
type Store struct {
	mu      sync.Mutex
	msgs    []stored          // msgs[i] has sequence i+1
	ids     map[string]uint64 // envelope id -> sequence (dedup, forever)
	changed chan struct{}     // closed and replaced on every append
}

type stored struct {
	subject string
	data    []byte // the envelope as JSON, as a real store keeps it
}

var _ events.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{ids: map[string]uint64{}, changed: make(chan struct{})} }

// Append implements events.Store.
func (s *Store) Append(ctx context.Context, env events.Envelope, expect *events.Expect) (uint64, error) {
	if env.Subject == "" || env.ID == "" {
		return 0, errors.New("events: envelope without subject or id")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	data, err := json.Marshal(env)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq, dup := s.ids[env.ID]; dup {
		return seq, nil
	}
	if expect != nil && s.lastLocked(expect.Subject) != expect.Seq {
		return 0, events.ErrConflict
	}
	s.msgs = append(s.msgs, stored{subject: env.Subject, data: data})
	seq := uint64(len(s.msgs))
	s.ids[env.ID] = seq
	close(s.changed)
	s.changed = make(chan struct{})
	return seq, nil
}

// lastLocked is the sequence of the newest event matching filter, 0 if none.
func (s *Store) lastLocked(filter string) uint64 {
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if Match(filter, s.msgs[i].subject) {
			return uint64(i + 1)
		}
	}
	return 0
}

// Last implements events.Store.
func (s *Store) Last(ctx context.Context, subject string) (events.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return events.Envelope{}, err
	}
	s.mu.Lock()
	seq := s.lastLocked(subject)
	var m stored
	if seq > 0 {
		m = s.msgs[seq-1]
	}
	s.mu.Unlock()
	if seq == 0 {
		return events.Envelope{}, events.ErrNotFound
	}
	return events.FromLog(m.data, seq, m.subject), nil
}

// LastSeq implements events.Store.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if strings.HasPrefix(s.msgs[i].subject, jobsPrefix) {
			return uint64(i + 1), nil
		}
	}
	return 0, nil
}

// jobsPrefix starts every subject events.SubjectAll matches.
var jobsPrefix = strings.TrimSuffix(events.SubjectAll, ">")

// Read implements events.Store. fn runs without the lock held, so it may
// append; what it appends lies past the end Read fixed when it began.
func (s *Store) Read(ctx context.Context, filter string, from uint64, fn func(events.Envelope) error) error {
	s.mu.Lock()
	end := s.lastLocked(filter)
	s.mu.Unlock()
	return s.scan(ctx, filter, from, end, fn)
}

// Follow implements events.Store.
func (s *Store) Follow(ctx context.Context, filter string, from uint64, fn func(events.Envelope) error) error {
	if from == 0 {
		from = 1
	}
	for {
		s.mu.Lock()
		end, changed := uint64(len(s.msgs)), s.changed
		s.mu.Unlock()
		if err := s.scan(ctx, filter, from, end, fn); err != nil {
			return err
		}
		if end >= from {
			from = end + 1
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// scan calls fn for the events matching filter with from <= seq <= end.
func (s *Store) scan(ctx context.Context, filter string, from, end uint64, fn func(events.Envelope) error) error {
	if from == 0 {
		from = 1
	}
	for seq := from; seq <= end; seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		m := s.msgs[seq-1]
		s.mu.Unlock()
		if !Match(filter, m.subject) {
			continue
		}
		if err := fn(events.FromLog(m.data, seq, m.subject)); err != nil {
			return err
		}
	}
	return nil
}

// Match reports whether subject matches a NATS filter: "*" matches one
// token, a final ">" one or more.
func Match(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return i == len(f)-1 && len(s) > i
		}
		if i >= len(s) || tok != "*" && tok != s[i] {
			return false
		}
	}
	return len(f) == len(s)
}
