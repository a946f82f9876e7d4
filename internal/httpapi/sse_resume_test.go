package httpapi

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
)

type sseFrame struct {
	id   uint64
	body map[string]any
}

// readFrame reads one SSE event's id and JSON data, skipping keep-alives.
func readFrame(t *testing.T, r *bufio.Reader) sseFrame {
	t.Helper()
	var f sseFrame
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading SSE: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && f.body != nil:
			return f
		case strings.HasPrefix(line, "id: "):
			if f.id, err = strconv.ParseUint(strings.TrimPrefix(line, "id: "), 10, 64); err != nil {
				t.Fatalf("id line %q", line)
			}
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &f.body); err != nil {
				t.Fatalf("data is not JSON: %v", err)
			}
		}
	}
}

// TestSSEFramesCarryIDsAndLastEventIDResumes: every SSE frame's id is its
// event's sequence; a client that reconnects with Last-Event-ID gets a
// catchup of only the rows changed after it, then the live messages, so
// every outcome after the id arrives once and nothing before it again.
func TestSSEFramesCarryIDsAndLastEventIDResumes(t *testing.T) {
	res, job := bigJob(t, "resume", 3, func(int) map[string]any { return nil })
	tap := &multiTap{}
	ts := serveReal(t, Deps{Auth: okAuth{}, Tap: tap, Jobs: feedJob{job}, Results: res})
	defer closeIdle(ts.Client())
	seq := uint64(1)
	apply := func(ev events.Event) {
		seq++
		env, err := events.New(job.ID, events.Worker("w"), ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Seq = seq
		if err := res.Apply(env); err != nil {
			t.Fatal(err)
		}
		tap.mu.Lock()
		tap.applied = seq
		for _, d := range tap.taps {
			d(env)
		}
		tap.mu.Unlock()
	}

	first := openSSE(t, ts, job.ID)
	r := bufio.NewReader(first.Body)
	if f := readFrame(t, r); f.id != 1 || f.body["type"] != "catchup" || len(f.body["results"].([]any)) != 3 {
		t.Fatalf("first catchup: id %d %v", f.id, f.body)
	}
	apply(events.DocumentStarted{Row: 0, Attempt: 1})                         // 2
	apply(events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"water"}}) // 3
	var last uint64
	for range 2 {
		f := readFrame(t, r)
		if float64(f.id) != f.body["seq"] {
			t.Fatalf("frame id %d, seq %v", f.id, f.body["seq"])
		}
		last = f.id
	}
	first.Body.Close()
	if last != 3 {
		t.Fatalf("last id %d, want 3", last)
	}

	// While the client is away, row 1 is tagged.
	apply(events.DocumentStarted{Row: 1, Attempt: 1})                         // 4
	apply(events.DocumentTagged{Row: 1, Attempt: 1, Tags: []string{"roads"}}) // 5

	req, _ := http.NewRequest("GET", ts.URL+"/api/batch/jobs/"+job.ID+"/stream", nil)
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("Last-Event-ID", strconv.FormatUint(last, 10))
	again, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Body.Close()
	r = bufio.NewReader(again.Body)
	c := readFrame(t, r)
	rows := c.body["results"].([]any)
	if c.id != 5 || c.body["type"] != "catchup" || c.body["since"] != float64(3) || len(rows) != 1 ||
		rows[0].(map[string]any)["row_id"] != float64(1) || rows[0].(map[string]any)["status"] != "success" {
		t.Fatalf("resumed catchup: id %d %v, want id 5 with only row 1 (row 0 was seen before id 3)", c.id, c.body)
	}
	apply(events.DocumentFailed{Row: 2, Attempt: 1, Code: "fetch", Error: "gone"}) // 6
	apply(events.JobCompleted{Processed: 2, Failed: 1})                            // 7
	if f := readFrame(t, r); f.id != 6 || f.body["row_id"] != float64(2) {
		t.Fatalf("live after resume: id %d %v", f.id, f.body)
	}
	if f := readFrame(t, r); f.id != 7 || f.body["type"] != "completed" {
		t.Fatalf("terminal after resume: id %d %v", f.id, f.body)
	}
}
