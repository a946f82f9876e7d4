package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestWebSocketResumeSinceAndJobStatus: document messages carry the job's
// own status (job_status) beside the document's, and a WebSocket opened
// with ?since=SEQ (the console's reconnect) gets a catchup of only the
// rows changed after that event.
func TestWebSocketResumeSinceAndJobStatus(t *testing.T) {
	tagger := &fakeTagger{}
	gate := make(chan struct{})
	tagger.setGate(gate)
	defer close(gate)
	e := startEnv(t, testConfig(t), tagger)
	u := e.register("resumer@example.com")
	job := e.startJob(u, 4, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	conn, _, err := websocket.Dial(ctx, wsURL(e, job, u.token), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	gate <- struct{}{}
	var firstRow, since float64
	for seen := false; !seen; {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] != "document" {
			continue
		}
		if m["job_status"] != "processing" {
			t.Errorf("document message job_status = %v; want processing", m["job_status"])
		}
		if m["event"] == "DocumentTagged" {
			firstRow, since, seen = m["row_id"].(float64), m["seq"].(float64), true
		}
	}
	conn.CloseNow()

	// One more document finishes while the client is away.
	gate <- struct{}{}
	deadline := time.Now().Add(10 * time.Second)
	for e.mustCall("GET", "/api/batch/jobs/"+job+"/status", u.token, nil, http.StatusOK)["processed_count"].(float64) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("second document not tagged")
		}
		time.Sleep(20 * time.Millisecond)
	}

	o := observeFirst(ctx, t, wsURL(e, job, u.token)+fmt.Sprintf("&since=%d", int64(since)))
	if o["since"] != since {
		t.Errorf("catchup since = %v; want %v", o["since"], since)
	}
	tagged := 0
	for _, r := range o["results"].([]any) {
		row := r.(map[string]any)
		if row["row_id"].(float64) == firstRow {
			t.Errorf("row %v, tagged before since=%v, sent again", firstRow, since)
		}
		if row["status"] == "success" {
			tagged++
		}
	}
	if tagged != 1 {
		t.Errorf("resumed catchup has %d tagged rows; want the 1 tagged while away", tagged)
	}
}

// observeFirst reads the first (catchup) message of a WebSocket.
func observeFirst(ctx context.Context, t *testing.T, url string) map[string]any {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	_, data, err := conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
