package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// These tests pin the client's side of the WebSocket protocol with a
// scripted server; the end-to-end tests against the real server live in
// cmd/tagstream/client_test.go.

// scripted serves /status from a counter and a WebSocket that sends msgs
// and then either closes normally or drops the connection.
func scripted(t *testing.T, msgs []string, drop bool, final string) (*httptest.Server, *atomic.Int32) {
	var polls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/api/batch/jobs/j1/status", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		n := polls.Add(1)
		status := `{"job_id":"j1","status":"processing","total_documents":3,"processed_count":0}`
		if n > 2 {
			status = final
		}
		w.Write([]byte(status))
	})
	mux.HandleFunc("/api/batch/ws/j1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		for _, m := range msgs {
			if err := c.Write(r.Context(), websocket.MessageText, []byte(m)); err != nil {
				return
			}
		}
		if drop {
			c.CloseNow() // no close frame: a proxy cutting the connection
			return
		}
		c.Close(websocket.StatusNormalClosure, "job finished")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &polls
}

func follow(t *testing.T, srv *httptest.Server) (Job, []Progress, error, error) {
	c, err := New(srv.URL, WithTokens(Tokens{AccessToken: "tok"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var seen []Progress
	var fallback error
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	j, err := c.Follow(ctx, "j1", FollowOptions{PollEvery: 10 * time.Millisecond,
		OnProgress: func(p Progress) { seen = append(seen, p) },
		OnFallback: func(r error) { fallback = r }})
	return j, seen, fallback, err
}

const done = `{"job_id":"j1","status":"completed","total_documents":3,"processed_count":2,"failed_count":1}`

func TestFollowCountsRowsFromLiveMessages(t *testing.T) {
	// An older message shape without counts: the client counts rows, and a
	// repeated row status must not count twice.
	srv, _ := scripted(t, []string{
		`{"type":"catchup","job_id":"j1","state":{"status":"processing","total_documents":3},"results":[{"row_id":0,"status":"success"},{"row_id":1,"status":"pending"},{"row_id":2,"status":"pending"}]}`,
		`{"type":"document","row_id":1,"status":"processing"}`,
		`{"type":"document","row_id":1,"status":"failed"}`,
		`{"type":"document","row_id":2,"status":"success"}`,
		`{"type":"completed","job_id":"j1"}`,
	}, false, done)
	j, seen, fallback, err := follow(t, srv)
	if err != nil || fallback != nil || j.Status != "completed" {
		t.Fatalf("follow: %+v %v (fallback %v)", j, err, fallback)
	}
	last := seen[len(seen)-1]
	if last.Done != 2 || last.Failed != 1 || last.Total != 3 || last.Status != "completed" {
		t.Fatalf("last progress %+v, want 2 done 1 failed of 3", last)
	}
}

func TestFollowFallsBackToPollingWhenTheSocketDrops(t *testing.T) {
	srv, polls := scripted(t, []string{
		`{"type":"catchup","job_id":"j1","state":{"status":"processing","total_documents":3},"results":[]}`,
		`{"type":"document","row_id":0,"status":"success","processed_count":1,"failed_count":0,"total_documents":3}`,
	}, true, done)
	j, seen, fallback, err := follow(t, srv)
	if err != nil || j.Status != "completed" || j.FailedCount != 1 {
		t.Fatalf("follow: %+v %v", j, err)
	}
	if fallback == nil || !strings.Contains(fallback.Error(), "before the job finished") || polls.Load() < 3 {
		t.Fatalf("fallback %v after %d polls", fallback, polls.Load())
	}
	if seen[len(seen)-1].Done != 2 {
		t.Fatalf("progress did not continue from polling: %+v", seen)
	}
}

func TestFollowFallsBackWhenTheSocketIsRefused(t *testing.T) {
	srv, _ := scripted(t, nil, false, done)
	// The same server behind a proxy that answers 404 for the socket.
	mux := http.NewServeMux()
	mux.Handle("/api/batch/ws/", http.NotFoundHandler())
	mux.Handle("/", srv.Config.Handler)
	srv2 := httptest.NewServer(mux)
	defer srv2.Close()
	j, _, fallback, err := follow(t, srv2)
	if err != nil || j.Status != "completed" || fallback == nil || !strings.Contains(fallback.Error(), "HTTP 404") {
		t.Fatalf("follow: %+v %v (fallback %v)", j, err, fallback)
	}
}
