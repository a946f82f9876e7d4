package events

import (
	"errors"
	"fmt"
)

// A message in the log that does not decode (not an envelope at all, or a
// known type whose data does not fit it: a writer with NATS credentials, a
// bug of some release, bytes torn by hand) is treated like an event this
// build does not know: every reader skips and counts it (Skips, under
// SkipMalformed, by sequence) and goes on. Stopping on it instead would
// stop every read model at every start, since the log keeps it forever;
// before, the read models retried it forever while saying "running".

// SkipMalformed is the type name Skips (and the skip metric's type label)
// count malformed messages under; event types are CamelCase, so no event
// type can be it.
const SkipMalformed = "not-an-event"

// MalformedError is Load's and Decode's answer for a message that does
// not decode.
// IsUnknown is true of it: readers skip it.
type MalformedError struct {
	Seq     uint64
	Subject string
	Err     error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("events: seq %d on %s does not decode: %v", e.Seq, e.Subject, e.Err)
}

// IsMalformed reports whether err is a MalformedError.
func IsMalformed(err error) bool {
	var m *MalformedError
	return errors.As(err, &m)
}

// SkipType is the type a skip of env for err is counted and recorded
// under: SkipMalformed for a message that does not decode, else its type.
func SkipType(env Envelope, err error) string {
	if env.Type == SkipMalformed || IsMalformed(err) {
		return SkipMalformed
	}
	return env.Type
}

func (e *MalformedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnknownEvent) true: skip it.
func (e *MalformedError) Is(target error) bool { return target == ErrUnknownEvent }

// FromLog is Unmarshal for a store's reader: a message that is not an
// envelope comes back as one that says so (type SkipMalformed, the job of
// its subject when it has one) and whose Load and Decode return a
// MalformedError, instead of an error that would end the read.
func FromLog(data []byte, seq uint64, subject string) Envelope {
	env, err := Unmarshal(data, seq, subject)
	if err == nil {
		return env
	}
	jobID, _, _, _ := ParseSubject(subject)
	return Envelope{Type: SkipMalformed, JobID: jobID, Seq: seq, Subject: subject, broken: err}
}
