package events_test

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
)

// A message that is not an envelope reaches readers as one they skip: its
// job is the subject's, Load and Decode say why, and IsUnknown is true.
func TestFromLogMarksMessagesThatAreNotEvents(t *testing.T) {
	env := events.FromLog([]byte(`{"id":"x","type":"JobPaused","data":{"\`), 8, events.ControlSubject("job-1"))
	if env.Type != events.SkipMalformed || env.JobID != "job-1" || env.Seq != 8 {
		t.Fatalf("envelope %+v", env)
	}
	err := env.Load()
	var bad *events.MalformedError
	if !errors.As(err, &bad) || bad.Seq != 8 || !events.IsUnknown(err) {
		t.Fatalf("Load = %v, want a MalformedError readers skip", err)
	}
	if ev, err := env.Decode(); ev != nil || !events.IsUnknown(err) {
		t.Fatalf("Decode = %v, %v", ev, err)
	}
	good := events.FromLog([]byte(`{"id":"y","type":"JobPaused","job_id":"job-1","v":1,"data":{"reason":"lunch"}}`), 9, events.ControlSubject("job-1"))
	if err := good.Load(); err != nil || good.Type != events.TypeJobPaused {
		t.Fatalf("a good message: %+v, %v", good, err)
	}
}

// Summary counts messages that are not events by sequence (every reader
// skips the same one) apart from events a newer build would read.
func TestSkipSummary(t *testing.T) {
	s := events.NewSkips(nil, nil)
	if s.Summary() != "" {
		t.Fatalf("nothing skipped: %q", s.Summary())
	}
	bad := events.FromLog([]byte("not json"), 12, "jobs.j.job")
	for _, reader := range []string{events.ReaderProjections, events.ReaderDispatcher} {
		s.Skip(reader, bad, bad.Load())
	}
	s.Skip(events.ReaderProjections, events.Envelope{Type: "JobArchived", Seq: 13}, events.ErrUnknownEvent)
	want := "skipped 1 events this build does not know (types: JobArchived); upgrade this process to read them; " +
		"skipped messages of the log that do not decode (seq 12)"
	if got := s.Summary(); got != want {
		t.Fatalf("Summary = %q\nwant      %q", got, want)
	}
	// Past the bound on distinct types (a flood of invented names), a
	// message that does not decode is still named by its sequence.
	flood := events.NewSkips(nil, nil)
	for i := range 40 {
		flood.Skip(events.ReaderProjections, events.Envelope{Type: "T" + strconv.Itoa(i)}, events.ErrUnknownEvent)
	}
	late := events.FromLog([]byte("{"), 99, "jobs.j.job")
	flood.Skip(events.ReaderProjections, late, late.Load())
	if got := flood.Summary(); !strings.Contains(got, "do not decode (seq 99)") {
		t.Fatalf("after 40 invented types: %q", got)
	}
}

// An export for auditors refuses a message that is not an envelope rather
// than writing one in its place.
func TestExportRefusesMessagesThatAreNotEvents(t *testing.T) {
	var buf bytes.Buffer
	x := events.NewExporter(&buf)
	bad := events.FromLog([]byte("not json"), 3, "jobs.j.job")
	if err := x.Write(bad); !events.IsMalformed(err) {
		t.Fatalf("export of a message that is not an event: %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("export wrote %q", buf.String())
	}
}
