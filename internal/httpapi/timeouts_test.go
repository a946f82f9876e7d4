package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/services"
)

// TestTrickledBodyIsCut sends a body one byte at a time, forever: the
// server must answer 408 and close instead of waiting for it (the attack
// that held 21,000 connections). Only the body deadline is short here.
func TestTrickledBodyIsCut(t *testing.T) {
	ts := serveReal(t, Deps{Auth: okAuth{}, Timeouts: Timeouts{Body: 300 * time.Millisecond, Write: 5 * time.Second}})
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() { // one byte every 50 ms until the server hangs up
		defer close(trickled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-trickled }()
	// Safety net only: a server that never cuts fails here instead of hanging.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"timeout"`) {
		t.Fatalf("trickled body: %d %s, want 408 timeout", resp.StatusCode, body)
	}
}

// slowValidator works longer than the body deadline, as a validation of
// slow remote paths does, and reports whether its context was cancelled.
type slowValidator struct{ work time.Duration }

func (v slowValidator) Handle(ctx context.Context, cmd services.ValidatePaths) ([]services.PathResult, error) {
	select {
	case <-time.After(v.work): // the elapsed time is the point of the test
		return []services.PathResult{{Row: 0, Valid: true}}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestBodyDeadlineDoesNotCutAWorkingHandler: the body deadline covers the
// body only. Once the body is in, a handler that works past the deadline
// keeps its context (an expired read deadline in net/http's background
// read would cancel it) and answers.
func TestBodyDeadlineDoesNotCutAWorkingHandler(t *testing.T) {
	ts := serveReal(t, Deps{Auth: okAuth{}, Validate: slowValidator{work: time.Second},
		Timeouts: Timeouts{Body: 100 * time.Millisecond, Write: 5 * time.Second}})
	c := ts.Client()
	defer closeIdle(c)
	req, _ := http.NewRequest("POST", ts.URL+"/api/batch/validate-paths",
		strings.NewReader(`{"documents":[{"file_path":"https://example.org/a.pdf"}]}`))
	req.Header.Set("Authorization", "Bearer x")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"valid":1`) {
		t.Fatalf("a handler working past the body deadline was cut: %d %s", resp.StatusCode, body)
	}
}
