package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// multiTap is the runner's Tap for many observers: a snapshot and the
// deliveries under one lock.
type multiTap struct {
	mu   sync.Mutex
	next int
	taps map[int]func(events.Envelope) bool
	// applied is the sequence a new watcher's snapshot reflects (1 if unset).
	applied uint64
}

func (m *multiTap) Tap(snapshot func(uint64), deliver func(events.Envelope) bool) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	snapshot(max(m.applied, 1))
	if m.taps == nil {
		m.taps = map[int]func(events.Envelope) bool{}
	}
	id := m.next
	m.next++
	m.taps[id] = deliver
	return func() { m.mu.Lock(); delete(m.taps, id); m.mu.Unlock() }
}

// bigJob is a real results read model holding one job of rows documents.
func bigJob(t *testing.T, id string, rows int, extra func(i int) map[string]any) (*projections.DocumentResults, projections.Job) {
	t.Helper()
	res := projections.NewDocumentResults()
	docs := make([]events.Document, rows)
	for i := range docs {
		docs[i] = events.Document{Row: i, Title: fmt.Sprintf("Document %d", i), SourceType: "url",
			FilePath:    fmt.Sprintf("https://example.org/reports/%d.pdf", i),
			Description: strings.Repeat("a fairly long description of the document ", 5), Extra: extra(i)}
	}
	owner := events.User("u1", "u@example.com")
	for _, ev := range []events.Event{
		events.DocumentsSubmitted{InputID: "in-" + id, Documents: docs},
		events.JobStarted{InputID: "in-" + id, Chunks: 1, Total: rows},
	} {
		env, err := events.New(id, owner, ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	return res, projections.Job{ID: id, OwnerID: "u1", Status: events.StatusProcessing, Total: rows}
}

// readEvent reads one SSE event without keeping it (ReadSlice reuses the
// reader's buffer), so the client side adds nothing to the heap measured.
func readEvent(r *bufio.Reader) (int, error) {
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		n += len(line)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return n, err
		}
		if len(line) == 1 { // the blank line that ends an event
			return n, nil
		}
	}
}

func openSSE(t *testing.T, ts *httptest.Server, job string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+"/api/batch/jobs/"+job+"/stream", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestManyObserversOfALargeJobKeepMemoryBounded connects N SSE observers
// to a job of 2,000 documents. Each gets the full catchup, but paged out
// of the read model, so the server keeps no observer's copy of the
// results: while all N are connected, the heap has grown by much less
// than one catchup per observer (the old code kept N of them: ~N x 0.9 MB).
func TestManyObserversOfALargeJobKeepMemoryBounded(t *testing.T) {
	const rows, observers = 2000, 24
	res, job := bigJob(t, "big", rows, func(i int) map[string]any { return map[string]any{"dept": "water", "ref": i} })
	ts := serveReal(t, Deps{Auth: okAuth{}, Tap: &multiTap{}, Jobs: feedJob{job}, Results: res,
		MaxStreamsPerUser: observers + 1})
	defer closeIdle(ts.Client())

	// One observer checks the catchup is whole and well-formed.
	first := openSSE(t, ts, job.ID)
	br := bufio.NewReaderSize(first.Body, 1<<16)
	if id, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(id, "id: ") {
		t.Fatalf("catchup id line: %v %q", err, id)
	}
	line, err := br.ReadString('\n')
	first.Body.Close()
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("catchup: %v %.80q", err, line)
	}
	var catchup struct {
		Type    string           `json:"type"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &catchup); err != nil {
		t.Fatalf("catchup is not JSON: %v", err)
	}
	if catchup.Type != "catchup" || len(catchup.Results) != rows || catchup.Results[rows-1]["ref"] != float64(rows-1) {
		t.Fatalf("catchup: type %q with %d rows, want %d", catchup.Type, len(catchup.Results), rows)
	}
	catchupSize := uint64(len(line))
	line, catchup.Results = "", nil

	before := heapAfterGC()
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	for range observers {
		resp := openSSE(t, ts, job.ID)
		open = append(open, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("observer refused: %d", resp.StatusCode)
		}
		if n, err := readEvent(bufio.NewReader(resp.Body)); err != nil || uint64(n) < catchupSize {
			t.Fatalf("observer catchup: %d bytes (%v), want %d", n, err, catchupSize)
		}
	}
	grown := int64(heapAfterGC()) - int64(before)
	t.Logf("catchup %d KiB; heap grew %d KiB with %d observers connected", catchupSize>>10, grown>>10, observers)
	// Kept per observer: its buffered channel, connection buffers, the
	// job's state. Far below one catchup each (the bound is a quarter).
	if limit := int64(observers) * int64(catchupSize) / 4; grown > limit {
		t.Fatalf("heap grew %d KiB with %d observers connected, more than %d KiB: observers keep copies of the results",
			grown>>10, observers, limit>>10)
	}
}

// TestStreamsPerUserAreCapped: the 9th concurrent stream of one user is
// 429 with Retry-After; closing one lets another in; and every stream's
// goroutines (the pinger included) are gone once the server has closed.
func TestStreamsPerUserAreCapped(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	res, job := bigJob(t, "capped", 3, func(int) map[string]any { return nil })
	d := Deps{Auth: okAuth{}, Tap: &multiTap{}, Jobs: feedJob{job}, Results: res}
	ts := httptest.NewUnstartedServer(New(d))
	ts.Config = NewHTTPServer(ts.Config.Handler)
	ts.Start()
	var open []*http.Response
	for range DefaultMaxStreamsPerUser {
		resp := openSSE(t, ts, job.ID)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream refused below the cap: %d", resp.StatusCode)
		}
		if _, err := readEvent(bufio.NewReader(resp.Body)); err != nil {
			t.Fatal(err)
		}
		open = append(open, resp)
	}
	over := openSSE(t, ts, job.ID)
	body, _ := io.ReadAll(over.Body)
	over.Body.Close()
	if over.StatusCode != http.StatusTooManyRequests || over.Header.Get("Retry-After") == "" ||
		!bytes.Contains(body, []byte("too many streams")) {
		t.Fatalf("stream over the cap: %d %q %s", over.StatusCode, over.Header.Get("Retry-After"), body)
	}
	open[0].Body.Close()
	open = open[1:]
	for attempt := 0; ; attempt++ { // until the server has seen the close
		resp := openSSE(t, ts, job.ID)
		if resp.StatusCode == http.StatusOK {
			open = append(open, resp)
			break
		}
		resp.Body.Close()
		if attempt == 500 {
			t.Fatal("a closed stream never gave its slot back")
		}
		runtime.Gosched()
	}
	for _, r := range open {
		r.Body.Close()
	}
	ts.Close() // waits for every handler
	goleak.VerifyNone(t, ignore)
}

// TestWebSocketStreamsPerUserAreCapped: over the cap, the upgrade
// succeeds (browsers cannot read a refused upgrade's status) and the
// socket closes at once with 1013, try again later.
func TestWebSocketStreamsPerUserAreCapped(t *testing.T) {
	res, job := bigJob(t, "wscap", 3, func(int) map[string]any { return nil })
	ts := serveReal(t, Deps{Auth: okAuth{}, Tap: &multiTap{}, Jobs: feedJob{job}, Results: res, MaxStreamsPerUser: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // safety net
	defer cancel()
	dial := func() *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/api/batch/ws/"+job.ID,
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer x"}}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for range 2 {
		c := dial()
		defer c.CloseNow()
		if _, msg, err := c.Read(ctx); err != nil || !bytes.Contains(msg, []byte(`"catchup"`)) {
			t.Fatalf("stream within the cap: %v %.60s", err, msg)
		}
	}
	c := dial()
	defer c.CloseNow()
	_, _, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusTryAgainLater {
		t.Fatalf("third stream: %v, want close 1013", err)
	}
}

// TestSSEOutlivesTheWriteTimeout: an observer's answer lasts as long as
// the job, far longer than the write timeout of an ordinary answer; the
// stream bounds each write instead, so a message sent after several write
// timeouts still arrives.
func TestSSEOutlivesTheWriteTimeout(t *testing.T) {
	const write = 150 * time.Millisecond
	res, job := bigJob(t, "long", 1, func(int) map[string]any { return nil })
	tap := &multiTap{}
	ts := serveReal(t, Deps{Auth: okAuth{}, Tap: tap, Jobs: feedJob{job}, Results: res,
		Timeouts: Timeouts{Body: time.Second, Write: write}})
	defer closeIdle(ts.Client())
	resp := openSSE(t, ts, job.ID)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if _, err := readEvent(r); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * write) // the elapsed time is what is tested: several write timeouts
	env, _ := events.New(job.ID, events.Worker("w"), events.DocumentStarted{Row: 0, Attempt: 1})
	env.Seq = 2
	if err := res.Apply(env); err != nil {
		t.Fatal(err)
	}
	tap.mu.Lock()
	for _, d := range tap.taps {
		d(env)
	}
	tap.mu.Unlock()
	if id, err := r.ReadString('\n'); err != nil || id != "id: 2\n" {
		t.Fatalf("id line: %v %q", err, id)
	}
	line, err := r.ReadString('\n')
	if err != nil || !strings.Contains(line, `"type":"document"`) {
		t.Fatalf("message after %s on a stream: %v %q", 4*write, err, line)
	}
}
