package events

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// noteV3 is a test-only event whose shape changed twice: v1 had "text",
// v2 renamed it "body", v3 split out "lang". Stored shapes are never
// edited, so each step is an upcaster.
type noteV3 struct {
	Body string `json:"body"`
	Lang string `json:"lang"`
}

func (noteV3) EventType() string        { return "Note" }
func (noteV3) subject(id string) string { return ControlSubject(id) }

func testRegistry(calls *[]string) *Registry {
	r := NewRegistry()
	r.Register("Note", func() Event { return &noteV3{} },
		func(in json.RawMessage) (json.RawMessage, error) { // v1 -> v2
			*calls = append(*calls, "v1->v2")
			var v1 struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal(in, &v1); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]string{"body": v1.Text})
		},
		func(in json.RawMessage) (json.RawMessage, error) { // v2 -> v3
			*calls = append(*calls, "v2->v3")
			var v2 map[string]string
			if err := json.Unmarshal(in, &v2); err != nil {
				return nil, err
			}
			v2["lang"] = "en"
			return json.Marshal(v2)
		})
	return r
}

func TestUpcasterChain(t *testing.T) {
	var calls []string
	r := testRegistry(&calls)
	if v := r.Version("Note"); v != 3 {
		t.Fatalf("current version %d, want 3", v)
	}
	for _, c := range []struct {
		v     int
		data  string
		calls string
	}{
		{0, `{"text":"hi"}`, "v1->v2,v2->v3"}, // no "v": written before versions were per type
		{1, `{"text":"hi"}`, "v1->v2,v2->v3"},
		{2, `{"body":"hi"}`, "v2->v3"},
		{3, `{"body":"hi","lang":"en"}`, ""},
	} {
		calls = nil
		ev, err := r.Decode("Note", c.v, json.RawMessage(c.data))
		if err != nil {
			t.Fatalf("v%d: %v", c.v, err)
		}
		if n := ev.(*noteV3); n.Body != "hi" || n.Lang != "en" {
			t.Errorf("v%d decoded to %+v", c.v, n)
		}
		if got := strings.Join(calls, ","); got != c.calls {
			t.Errorf("v%d ran upcasters %q, want %q", c.v, got, c.calls)
		}
	}
	if _, err := r.Decode("Note", 1, json.RawMessage(`{"text":`)); err == nil || IsUnknown(err) {
		t.Errorf("broken v1 data: %v, want a decode error that is not 'unknown'", err)
	}
}

// A type or version this build does not know is a typed error readers can
// tell from a broken event. Readers skip both (IsUnknown); broken data of a
// known type is a MalformedError, not an UnknownEventError.
func TestUnknownEventIsTyped(t *testing.T) {
	for _, c := range []struct {
		env   Envelope
		known int
	}{
		{Envelope{Type: "JobArchived", Version: 1, Data: json.RawMessage(`{}`)}, 0},
		{Envelope{Type: TypeJobPaused, Version: 99, Data: json.RawMessage(`{"reason":"x"}`)}, 1},
	} {
		_, err := c.env.Decode()
		var ue *UnknownEventError
		if !IsUnknown(err) || !errors.Is(err, ErrUnknownEvent) || !errors.As(err, &ue) {
			t.Fatalf("%s v%d: %v, want *UnknownEventError", c.env.Type, c.env.Version, err)
		}
		if ue.Type != c.env.Type || ue.Version != c.env.Version || ue.Known != c.known {
			t.Errorf("error fields %+v", ue)
		}
		if err := c.env.Load(); !IsUnknown(err) {
			t.Errorf("Load: %v", err)
		}
	}
	broken := Envelope{Type: TypeJobPaused, Version: 1, Data: json.RawMessage(`{"reason":5}`)}
	_, err := broken.Decode()
	var ue *UnknownEventError
	if !IsUnknown(err) || !IsMalformed(err) || errors.As(err, &ue) {
		t.Errorf("broken known event: %v, want a MalformedError readers skip", err)
	}
	// Old envelopes without "v" still decode.
	old, err := Unmarshal([]byte(`{"id":"a","type":"JobPaused","job_id":"j","data":{"reason":"r"}}`), 1, "jobs.j.job")
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := old.Decode(); err != nil || ev.(*JobPaused).Reason != "r" {
		t.Errorf("envelope without v: %v %v", ev, err)
	}
}

func TestNewWritesTypeVersion(t *testing.T) {
	env, err := New("j", System, JobPaused{})
	if err != nil || env.Version != Types.Version(TypeJobPaused) || env.Version != 1 {
		t.Fatalf("New wrote v%d (%v), want the type's current version 1", env.Version, err)
	}
}

func TestSkipsCountsAndBounds(t *testing.T) {
	var counted []string
	s := NewSkips(nil, func(reader, typ string) { counted = append(counted, reader+"/"+typ) })
	s.Skip(ReaderProjections, Envelope{Type: "JobArchived"}, nil)
	s.Skip(ReaderProjections, Envelope{Type: "JobArchived"}, nil)
	for i := 0; i < 100; i++ {
		s.Skip(ReaderDispatcher, Envelope{Type: "T" + strings.Repeat("x", i)}, nil)
	}
	if s.Total() != 102 || s.Count(ReaderProjections, "JobArchived") != 2 {
		t.Fatalf("total %d, projections/JobArchived %d", s.Total(), s.Count(ReaderProjections, "JobArchived"))
	}
	types := s.Types()
	if len(types) != maxSkipKinds+1 || !slices.Contains(types, SkipOther) {
		t.Fatalf("%d distinct types remembered (%v), want %d and %q", len(types), types, maxSkipKinds+1, SkipOther)
	}
	if len(counted) != 102 {
		t.Fatalf("hook called %d times", len(counted))
	}
	var nilSkips *Skips
	nilSkips.Skip("x", Envelope{}, nil) // must not panic
	if nilSkips.Total() != 0 {
		t.Fatal("nil Skips counted")
	}
}
