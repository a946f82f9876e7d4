package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/services"
)

// silentServer accepts connections and never answers: a remote document
// server that hangs. Every accepted connection is reported on accepted.
type silentServer struct {
	ln       net.Listener
	accepted chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
	done     chan struct{}
}

func newSilentServer(t *testing.T) *silentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentServer{ln: ln, accepted: make(chan struct{}, 10000), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-s.done
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

func (s *silentServer) url(i int) string { return fmt.Sprintf("http://%s/doc-%d.pdf", s.ln.Addr(), i) }

func validateBody(urls ...string) []byte {
	docs := make([]map[string]string, len(urls))
	for i, u := range urls {
		docs[i] = map[string]string{"file_path": u}
	}
	b, _ := json.Marshal(map[string]any{"documents": docs})
	return b
}

func postValidate(ctx context.Context, c *http.Client, base string, body []byte) (int, map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/batch/validate-paths", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer x")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// realValidator is the production pre-flight (the real fetcher, private
// addresses allowed so that the loopback servers can be reached).
func realValidator() PathValidator {
	return services.NewValidatePathsHandler(fetch.New(fetch.Config{AllowPrivate: true}))
}

// TestValidateHasAnOverallDeadline: 200 URLs on a server that accepts and
// never answers used to take 200/8 x 15 s; with the overall deadline the
// request answers 200, says it is incomplete, and marks every row invalid.
func TestValidateHasAnOverallDeadline(t *testing.T) {
	silent := newSilentServer(t)
	ts := serveReal(t, Deps{Auth: okAuth{}, Validate: realValidator(), ValidateDeadline: 300 * time.Millisecond})
	c := ts.Client()
	defer closeIdle(c)
	urls := make([]string, 200)
	for i := range urls {
		urls[i] = silent.url(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // safety net only
	defer cancel()
	st, out, err := postValidate(ctx, c, ts.URL, validateBody(urls...))
	if err != nil {
		t.Fatalf("validation of silent URLs did not answer: %v", err)
	}
	if st != http.StatusOK || out["incomplete"] != true || out["invalid"] != float64(200) || out["note"] == nil {
		t.Fatalf("silent URLs: %d incomplete=%v invalid=%v note=%v", st, out["incomplete"], out["invalid"], out["note"])
	}
}

// TestValidatePerUserConcurrencyCap: while a user has two validations in
// flight (each held by a silent server), a third is 429 with Retry-After.
func TestValidatePerUserConcurrencyCap(t *testing.T) {
	a, b := newSilentServer(t), newSilentServer(t)
	ts := serveReal(t, Deps{Auth: okAuth{}, Validate: realValidator(), ValidateDeadline: time.Minute})
	c := ts.Client()
	defer closeIdle(c)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, s := range []*silentServer{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = postValidate(ctx, c, ts.URL, validateBody(s.url(0)))
		}()
	}
	// Both are inside the handler once their fetch has reached its server.
	for _, s := range []*silentServer{a, b} {
		select {
		case <-s.accepted:
		case <-time.After(30 * time.Second): // safety net
			t.Fatal("a validation never reached its server")
		}
	}
	st, out, err := postValidate(context.Background(), c, ts.URL, validateBody(a.url(1)))
	if err != nil || st != http.StatusTooManyRequests || out["code"] != "rate_limited" {
		t.Fatalf("third concurrent validation: %d %v %v, want 429", st, out, err)
	}
}
