package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
)

// Messages in the log that do not decode (not an envelope at all, or a
// known type whose data does not fit it: a writer with NATS credentials,
// bytes torn by hand) are skipped and counted by every reader, like events
// of a type this build does not know: the read models follow the log past
// them, the dispatcher starts later jobs, /api/ready says degraded and
// names their sequences, and so does the next start. Before, the read
// models retried them forever while saying "running", and every command
// waited for them.
func TestMessagesThatDoNotDecodeAreSkipped(t *testing.T) {
	cfg := testConfig(t)
	tagger := &fakeTagger{}
	e := startEnv(t, cfg, tagger)
	u := e.register("ana@example.com")
	a := e.startJob(u, 2, nil)
	e.waitStatus(u, a, 30*time.Second, "completed")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seqs []string
	var last uint64
	for _, msg := range []string{
		`{"id":"x","type":"JobPaused","data":{"\`,                                      // the key that crashed goccy/go-json v0.10.6
		`{"id":"y","type":"JobPaused","job_id":"` + a + `","v":1,"data":{"reason":5}}`, // a number for a string
	} {
		ack, err := e.app.conn.JS.Publish(ctx, events.ControlSubject(a), []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		seqs, last = append(seqs, strconv.FormatUint(ack.Sequence, 10)), ack.Sequence
	}
	if err := e.app.fresh.WaitFor(ctx, last); err != nil {
		t.Fatalf("read models stopped at the messages: %v", err)
	}
	b := e.startJob(u, 2, nil) // commands and the dispatcher go on
	e.waitStatus(u, b, 30*time.Second, "completed")
	servesJobs(t, e, u, a, b)
	assertSkippedMalformed(t, e, strings.Join(seqs, ", "))
	// The job's trail shows each at its sequence, as what it is.
	trail := map[string]string{}
	for _, ev := range e.mustCall("GET", "/api/batch/jobs/"+a+"/events", u.token, nil, http.StatusOK)["events"].([]any) {
		m := ev.(map[string]any)
		trail[strconv.FormatFloat(m["seq"].(float64), 'f', 0, 64)] = m["type"].(string)
	}
	if trail[seqs[0]] != events.SkipMalformed || trail[seqs[1]] != events.TypeJobPaused {
		t.Errorf("trail at %v: %q, %q", seqs, trail[seqs[0]], trail[seqs[1]])
	}
	_, fams := scrape(t, e)
	for _, reader := range []string{events.ReaderProjections, events.ReaderDispatcher} {
		m := sample(fams, "tagstream_events_skipped_total", map[string]string{"reader": reader, "type": events.SkipMalformed})
		if m == nil || m.GetCounter().GetValue() != 2 {
			t.Errorf("%s skipped %v messages that do not decode, want 2", reader, m)
		}
	}
	e.shutdown()

	e = startEnv(t, cfg, tagger)
	servesJobs(t, e, u, a, b)
	assertSkippedMalformed(t, e, strings.Join(seqs, ", "))
	c := e.startJob(u, 1, nil)
	e.waitStatus(u, c, 30*time.Second, "completed")
}

// assertSkippedMalformed: /api/ready is 200 "degraded", names the skipped
// messages, and no read model failed.
func assertSkippedMalformed(t *testing.T, e *env, seq string) {
	t.Helper()
	st, body := e.call("GET", "/api/ready", "", nil)
	checks, _ := body["checks"].(map[string]any)
	ev, _ := checks["events"].(map[string]any)
	detail, _ := ev["detail"].(string)
	if st != http.StatusOK || body["status"] != "degraded" || !strings.Contains(detail, "skipped messages of the log that do not decode (seq "+seq+")") {
		t.Errorf("/api/ready: %d %v, want 200 degraded naming the messages", st, body)
	}
	models, _ := body["projections"].([]any)
	for _, m := range models {
		if mm, _ := m.(map[string]any); mm["state"] != "running" {
			t.Errorf("model %v, want running", mm)
		}
	}
}
