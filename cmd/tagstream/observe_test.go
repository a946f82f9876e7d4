package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// observation is everything one WebSocket observer saw.
type observation struct {
	catchup map[string]any
	live    []map[string]any
	close   websocket.StatusCode
	err     error
}

func observe(ctx context.Context, wsURL string) observation {
	var o observation
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		o.err = err
		return o
	}
	defer conn.CloseNow()
	conn.SetReadLimit(64 << 20)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			o.close = websocket.CloseStatus(err)
			if o.close == -1 {
				o.err = err
			}
			return o
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			o.err = err
			return o
		}
		if o.catchup == nil {
			o.catchup = m
		} else {
			o.live = append(o.live, m)
		}
	}
}

func wsURL(e *env, job, token string) string {
	return "ws" + strings.TrimPrefix(e.url, "http") + "/api/batch/ws/" + job + "?token=" + token
}

func TestWebSocketObserversSeeEveryDocumentExactlyOnce(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = 4
	e := startEnv(t, cfg, &fakeTagger{delay: 4 * time.Millisecond})
	u := e.register("alice@example.com")
	for round := 0; round < 3; round++ {
		const total = 60
		job := e.startJob(u, total, nil)
		var wg sync.WaitGroup
		results := make([]observation, 12)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(rand.Intn(120)) * time.Millisecond) // connect at a random moment
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				results[i] = observe(ctx, wsURL(e, job, u.token))
			}()
		}
		wg.Wait()
		for i, o := range results {
			if o.err != nil {
				t.Fatalf("observer %d: %v", i, o.err)
			}
			checkObservation(t, o, total)
		}
	}
}

// checkObservation asserts no gap and no duplicate between catchup and
// live messages: every document reaches its outcome exactly once, seqs only
// grow, and the stream ends with the terminal message and a normal close.
func checkObservation(t *testing.T, o observation, total int) {
	t.Helper()
	if o.catchup["type"] != "catchup" {
		t.Fatalf("first message is %v", o.catchup["type"])
	}
	outcome := map[int]int{}
	for _, r := range o.catchup["results"].([]any) {
		row := r.(map[string]any)
		if st := row["status"]; st == "success" || st == "failed" {
			outcome[int(row["row_id"].(float64))]++
		}
	}
	last := o.catchup["seq"].(float64)
	for _, m := range o.live {
		seq := m["seq"].(float64)
		if seq <= last && m["type"] != "completed" {
			t.Fatalf("live message at seq %v after seq %v (duplicate or reorder): %v", seq, last, m)
		}
		last = seq
		// Every message counts, whatever its event: a start's message once
		// showed the outcome applied in the same batch.
		if m["type"] == "document" && (m["status"] == "success" || m["status"] == "failed") {
			outcome[int(m["row_id"].(float64))]++
		}
	}
	for row := 0; row < total; row++ {
		if outcome[row] != 1 {
			t.Fatalf("row %d observed with an outcome %d times (catchup seq %v, %d live messages)", row, outcome[row], o.catchup["seq"], len(o.live))
		}
	}
	if n := len(o.live); n == 0 || o.live[n-1]["type"] != "completed" {
		t.Fatalf("stream did not end with the terminal message: %v", o.live)
	}
	if o.close != websocket.StatusNormalClosure {
		t.Fatalf("closed with %v, want 1000", o.close)
	}
}

func TestWebSocketRefusesWithPolicyViolation(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{gate: make(chan struct{})})
	alice, bob := e.register("alice@example.com"), e.register("bob@example.com")
	job := e.startJob(alice, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, url := range map[string]string{
		"bad token":       wsURL(e, job, "garbage"),
		"no token":        strings.TrimSuffix(wsURL(e, job, ""), "?token="),
		"other's job":     wsURL(e, job, bob.token),
		"unknown job":     wsURL(e, "batch-0-missing", alice.token),
		"refresh as auth": wsURL(e, job, "rt_notanaccesstoken"),
		// Parameters that mean nothing are refused, not read as absent.
		"since not a number": wsURL(e, job, alice.token) + "&since=abc",
		"since negative":     wsURL(e, job, alice.token) + "&since=-1",
		"results not none":   wsURL(e, job, alice.token) + "&results=bogus",
	} {
		o := observe(ctx, url)
		if o.close != websocket.StatusPolicyViolation {
			t.Errorf("%s: close %v err %v, want 1008", name, o.close, o.err)
		}
	}
	// Pause and resume reach a connected observer; disconnecting it does
	// not touch the job.
	conn, _, err := websocket.Dial(ctx, wsURL(e, job, alice.token), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	read := func() map[string]any {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return m
	}
	if m := read(); m["type"] != "catchup" {
		t.Fatalf("first: %v", m)
	}
	e.mustCall("POST", "/api/batch/jobs/"+job+"/pause", alice.token, nil, 200)
	e.mustCall("POST", "/api/batch/jobs/"+job+"/resume", alice.token, nil, 200)
	var kinds []string
	for len(kinds) < 2 {
		m := read()
		if m["type"] != "document" {
			kinds = append(kinds, m["type"].(string))
		}
	}
	if kinds[0] != "paused" || kinds[1] != "resumed" {
		t.Fatalf("control messages: %v", kinds)
	}
	conn.Close(websocket.StatusNormalClosure, "bye")
	if st := e.status(alice, job)["status"]; st != "processing" && st != "pending" {
		t.Fatalf("job status after observer left: %v", st)
	}
}

func TestServerSentEventsStream(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("alice@example.com")
	job := e.startJob(u, 5, nil)
	req, _ := http.NewRequest("GET", e.url+"/api/batch/jobs/"+job+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, type %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var types []string
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m); err != nil {
			t.Fatal(err)
		}
		types = append(types, m["type"].(string))
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if len(types) < 2 || types[0] != "catchup" || types[len(types)-1] != "completed" {
		t.Fatalf("SSE message types: %v", types)
	}
}
