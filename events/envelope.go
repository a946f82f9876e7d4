// Package events defines Tagstream's event log: the envelope every event
// travels in, the event types with their schema versions, the subjects they
// are stored under and the Store interface that appends and reads them.
// It imports nothing else of ours and nothing of NATS: the JetStream store
// is events/jsstore, an in-memory one events/memstore, and both pass
// events/storetest.
package events

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"time"
)

// Actor is who caused an event: a user (id and email), a worker process or
// the system itself.
type Actor struct {
	Kind  string `json:"kind"` // "user", "worker" or "system"
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
}

// Actor kinds.
const (
	ActorUser   = "user"
	ActorWorker = "worker"
	ActorSystem = "system"
)

// User returns the actor for a signed-in user.
func User(id, email string) Actor { return Actor{Kind: ActorUser, ID: id, Email: email} }

// Worker returns the actor for a tagging worker.
func Worker(id string) Actor { return Actor{Kind: ActorWorker, ID: id} }

// System is the actor for transitions nobody asked for (a job completing).
var System = Actor{Kind: ActorSystem, ID: "tagstream"}

// Envelope is one stored event. Data holds the JSON of the event struct
// named by Type. Seq and Subject are filled in when the event is read back.
type Envelope struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	JobID   string          `json:"job_id"`
	Time    time.Time       `json:"time"`
	Actor   Actor           `json:"actor"`
	Version int             `json:"v"` // the schema version of Type's data
	Data    json.RawMessage `json:"data"`

	Seq     uint64 `json:"-"`
	Subject string `json:"-"`

	decoded Event // set by Load, so several readers decode the data once
	broken  error // set by FromLog for a message that is not an envelope
}

// Event is implemented by every event type: it names its type and the
// subject it is stored under, so the envelope never disagrees with the data.
type Event interface {
	EventType() string
	subject(jobID string) string
}

// New wraps an event in an envelope with a fresh id and the current time.
func New(jobID string, actor Actor, ev Event) (Envelope, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s: %w", ev.EventType(), err)
	}
	v := Types.Version(ev.EventType())
	if v == 0 {
		v = 1 // a type outside the registry (tests): readers will skip it
	}
	return Envelope{
		ID:      NewID(),
		Type:    ev.EventType(),
		JobID:   jobID,
		Time:    time.Now().UTC(),
		Actor:   actor,
		Version: v,
		Data:    data,
		Subject: ev.subject(jobID),
	}, nil
}

// NewID returns a random 128-bit identifier in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Load decodes the data once and keeps the result in the envelope, so
// every copy handed on (to several read models, say) shares it.
func (e *Envelope) Load() error {
	if e.decoded != nil {
		return nil
	}
	ev, err := e.decode()
	if err != nil {
		return err
	}
	e.decoded = ev
	return nil
}

// Decode parses the envelope's data into the event struct its type names.
// The returned event must be treated as read-only: it may be shared.
func (e Envelope) Decode() (Event, error) {
	if e.decoded != nil {
		return e.decoded, nil
	}
	return e.decode()
}

func (e Envelope) decode() (Event, error) {
	if e.broken != nil {
		return nil, e.broken
	}
	ev, err := Types.Decode(e.Type, e.Version, e.Data)
	if err != nil && !IsUnknown(err) {
		// A known type whose data does not decode: skipped like an
		// unknown one (see malformed.go).
		return nil, &MalformedError{Seq: e.Seq, Subject: e.Subject, Err: err}
	}
	return ev, err
}

// Unmarshal parses a stored message into an envelope with its sequence and
// subject, for stores and for readers that consume the stream directly;
// bytes that are not an envelope are a *MalformedError (FromLog keeps it).
func Unmarshal(data []byte, seq uint64, subject string) (Envelope, error) {
	var env Envelope
	if err := decodeJSON(data, &env); err != nil {
		return Envelope{}, &MalformedError{Seq: seq, Subject: subject, Err: err}
	}
	env.Seq, env.Subject = seq, subject
	return env, nil
}
