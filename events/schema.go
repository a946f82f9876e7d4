package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Each event type carries its own schema version, so one type can change
// its data without touching the others. A type's data changes only by
// adding a version: the new shape gets a new number, and an Upcaster turns
// the JSON of the version before into it. Stored events are never rewritten;
// they are upcast each time they are read.

// Upcaster turns the data of version n of a type into version n+1.
type Upcaster func(json.RawMessage) (json.RawMessage, error)

// ErrUnknownEvent means an event's type, or its type's version, is newer
// than this build: a reader should skip and count it, not fail. Any other
// decode error means the event is broken.
var ErrUnknownEvent = errors.New("events: unknown event type or version")

// UnknownEventError names what this build does not know.
type UnknownEventError struct {
	Type    string
	Version int // the envelope's version
	Known   int // the newest version this build knows; 0: type unknown
}

func (e *UnknownEventError) Error() string {
	if e.Known == 0 {
		return fmt.Sprintf("events: unknown event type %q (v%d)", e.Type, e.Version)
	}
	return fmt.Sprintf("events: %s v%d is newer than this build (knows up to v%d)", e.Type, e.Version, e.Known)
}

// Is makes errors.Is(err, ErrUnknownEvent) true.
func (e *UnknownEventError) Is(target error) bool { return target == ErrUnknownEvent }

// IsUnknown reports whether err means "skip this event": its type or
// version is newer than this build, or it does not decode (IsMalformed
// tells which; malformed.go says why both are skipped).
func IsUnknown(err error) bool { return errors.Is(err, ErrUnknownEvent) }

// schema is what a registry knows about one type.
type schema struct {
	factory func() Event
	up      []Upcaster // up[i] turns v(i+1) into v(i+2); current = len(up)+1
}

// Registry maps type names to their current version, struct and upcasters.
// The package's own registry (Types) holds every stored type; tests build
// their own to exercise upcasting without changing a stored shape.
type Registry struct {
	types map[string]schema
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]schema{}} }

// Register adds a type whose current version is len(up)+1: up[0] upcasts
// v1 to v2, up[1] v2 to v3, and so on. Registering a type twice panics: it
// is a programming error caught at init.
func (r *Registry) Register(typ string, factory func() Event, up ...Upcaster) {
	if _, dup := r.types[typ]; dup {
		panic("events: type registered twice: " + typ)
	}
	r.types[typ] = schema{factory: factory, up: up}
}

// Version is the current version of typ, or 0 if it is unknown.
func (r *Registry) Version(typ string) int {
	s, ok := r.types[typ]
	if !ok {
		return 0
	}
	return len(s.up) + 1
}

// Types lists the registered type names, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.types))
	for t := range r.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Decode parses data written as version v of typ into the current struct,
// upcasting older versions first. Version 0 (an envelope without "v") is
// read as 1, the version every event had before versions were per type.
func (r *Registry) Decode(typ string, v int, data json.RawMessage) (Event, error) {
	if v <= 0 {
		v = 1
	}
	s, ok := r.types[typ]
	if !ok {
		return nil, &UnknownEventError{Type: typ, Version: v}
	}
	current := len(s.up) + 1
	if v > current {
		return nil, &UnknownEventError{Type: typ, Version: v, Known: current}
	}
	for ; v < current; v++ {
		next, err := s.up[v-1](data)
		if err != nil {
			return nil, fmt.Errorf("upcast %s v%d to v%d: %w", typ, v, v+1, err)
		}
		data = next
	}
	ev := s.factory()
	if err := decodeJSON(data, ev); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", typ, v, err)
	}
	return ev, nil
}
