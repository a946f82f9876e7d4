package projections

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
)

// sliceLog is a Source over fixed envelopes (sequence = index+1).
type sliceLog []events.Envelope

func (l sliceLog) Read(_ context.Context, _ string, from uint64, fn func(events.Envelope) error) error {
	for _, env := range l {
		if env.Seq >= from {
			if err := fn(env); err != nil {
				return err
			}
		}
	}
	return nil
}
func (l sliceLog) Follow(ctx context.Context, f string, from uint64, fn func(events.Envelope) error) error {
	return l.Read(ctx, f, from, fn)
}
func (l sliceLog) LastSeq(context.Context) (uint64, error) { return uint64(len(l)), nil }

type recorder struct{ seqs []uint64 }

func (r *recorder) Name() string              { return "recorder" }
func (r *recorder) Snapshot() ([]byte, error) { return json.Marshal(r.seqs) }
func (r *recorder) Apply(env events.Envelope) error {
	if _, err := env.Decode(); err != nil {
		return err
	}
	r.seqs = append(r.seqs, env.Seq)
	return nil
}

func logOf(t *testing.T, envs ...events.Envelope) sliceLog {
	for i := range envs {
		envs[i].Seq = uint64(i + 1)
	}
	return envs
}

func known(t *testing.T, job string, ev events.Event) events.Envelope {
	env, err := events.New(job, events.System, ev)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Events written by a newer release (an unknown type, a known type at a
// newer version) are skipped and counted; the models go on with the rest
// and the applied sequence passes them, so Sync and WaitFor never hang.
func TestRunnerSkipsUnknownEvents(t *testing.T) {
	src := logOf(t,
		known(t, "a", events.JobStarted{Total: 1}),
		events.Envelope{ID: "x1", Type: "JobArchived", JobID: "a", Version: 1, Data: json.RawMessage(`{"by":"newer"}`)},
		events.Envelope{ID: "x2", Type: events.TypeJobPaused, JobID: "a", Version: 99, Data: json.RawMessage(`{}`)},
		known(t, "b", events.JobStarted{Total: 2}),
		events.Envelope{ID: "x3", Type: "JobArchived", JobID: "b", Version: 1, Data: json.RawMessage(`{}`)},
	)
	rec := &recorder{}
	var counted []string
	skips := events.NewSkips(nil, func(reader, typ string) { counted = append(counted, reader+"/"+typ) })
	r := NewRunner(src, rec)
	r.CountSkips(skips)
	var tapped []uint64
	r.Tap(func(uint64) {}, func(env events.Envelope) bool { tapped = append(tapped, env.Seq); return true })
	if err := r.CatchUp(context.Background()); err != nil {
		t.Fatalf("catch up over foreign events: %v", err)
	}
	if r.Applied() != 5 {
		t.Errorf("applied %d, want 5", r.Applied())
	}
	if err := r.Sync(context.Background()); err != nil {
		t.Errorf("sync: %v", err)
	}
	if len(rec.seqs) != 2 || rec.seqs[0] != 1 || rec.seqs[1] != 4 {
		t.Errorf("model applied %v, want [1 4]", rec.seqs)
	}
	if len(tapped) != 2 {
		t.Errorf("observers got %v, want only the known events", tapped)
	}
	if skips.Total() != 3 || skips.Count(events.ReaderProjections, "JobArchived") != 2 ||
		skips.Count(events.ReaderProjections, events.TypeJobPaused) != 1 || len(counted) != 3 {
		t.Errorf("skips: total %d, counted %v", skips.Total(), counted)
	}
}

// A broken event of a known type (data that does not fit it) is skipped
// like an unknown one, but counted apart, by sequence: the log keeps it
// forever, so stopping there would stop the read models at every start.
// Not silent: the skip is logged, counted and shown by /api/ready.
func TestRunnerSkipsBrokenEvents(t *testing.T) {
	src := logOf(t,
		known(t, "a", events.JobStarted{}),
		events.Envelope{ID: "x", Type: events.TypeJobPaused, JobID: "a", Version: 1, Data: json.RawMessage(`{"reason":7}`)},
		known(t, "a", events.JobResumed{}),
	)
	rec := &recorder{}
	r := NewRunner(src, rec)
	skips := events.NewSkips(nil, nil)
	r.CountSkips(skips)
	if err := r.CatchUp(context.Background()); err != nil {
		t.Fatalf("catch up over a broken event: %v", err)
	}
	if r.Applied() != 3 || len(rec.seqs) != 2 || rec.seqs[0] != 1 || rec.seqs[1] != 3 {
		t.Errorf("applied %d, model saw %v; want 3 and [1 3]", r.Applied(), rec.seqs)
	}
	if skips.Count(events.ReaderProjections, events.SkipMalformed) != 1 ||
		!strings.Contains(skips.Summary(), "do not decode (seq 2)") {
		t.Errorf("skips: %q", skips.Summary())
	}
}
