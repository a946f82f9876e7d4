package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// generatedRows is a results model of total rows made on demand. It
// records every Page call; after release is set, the call for rows at or
// past blockFrom of the second pass waits until ctx is done, so the test
// knows the client has gone before the export asks for more.
type generatedRows struct {
	total   int
	columns func(row int) map[string]any

	mu        sync.Mutex
	calls     []int // rows handed out per call
	zeroSeen  int   // calls starting at row 0 (one per pass)
	ctx       context.Context
	blockFrom int
	failFrom  int // > 0: the second pass fails at this row
}

func (g *generatedRows) Page(_ context.Context, _ string, from, limit int) ([]projections.Result, int, bool, error) {
	g.mu.Lock()
	if from == 0 {
		g.zeroSeen++
	}
	block := g.blockFrom > 0 && g.zeroSeen == 2 && from >= g.blockFrom
	fail := g.failFrom > 0 && g.zeroSeen == 2 && from >= g.failFrom
	ctx := g.ctx
	g.mu.Unlock()
	if fail {
		return nil, 0, false, errors.New("database is locked")
	}
	if block {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Second): // safety net: the test fails below
		}
	}
	end := g.total
	if limit > 0 && from+limit < end {
		end = from + limit
	}
	var out []projections.Result
	for i := from; i < end; i++ {
		out = append(out, projections.Result{Document: events.Document{Row: i, Title: fmt.Sprintf("doc %d", i),
			Extra: g.columns(i)}, Status: "tagged", Tags: []string{"a"}})
	}
	g.mu.Lock()
	g.calls = append(g.calls, len(out))
	g.mu.Unlock()
	return out, g.total, true, nil
}

func (g *generatedRows) Rows(context.Context, string, []int) ([]projections.Result, error) {
	return nil, nil
}

// TestCSVExportStopsWhenClientLeaves: a client reads the first rows of a
// 100,000-row export and hangs up. The export, streamed page by page,
// asks for no more rows once the request is gone, and never copies more
// than a page out of the read model at once.
func TestCSVExportStopsWhenClientLeaves(t *testing.T) {
	job := projections.Job{ID: "csv", OwnerID: "u1", Status: events.StatusCompleted, Total: 100000}
	g := &generatedRows{total: 100000, blockFrom: csvPage, columns: func(int) map[string]any { return map[string]any{"dept": "x"} }}
	api := New(Deps{Auth: okAuth{}, Jobs: feedJob{job}, Results: g, Log: slog.New(slog.DiscardHandler)})
	handled := make(chan struct{}, 1)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.ctx = r.Context()
		g.mu.Unlock()
		api.ServeHTTP(w, r)
		handled <- struct{}{}
	}))
	ts.Config = NewHTTPServer(ts.Config.Handler)
	ts.Start()
	defer ts.Close()
	defer closeIdle(ts.Client())

	req, _ := http.NewRequest("GET", ts.URL+"/api/batch/jobs/csv/results?format=csv", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bufio.NewReader(resp.Body))
	for i := range csvPage + 1 { // header and the first page
		rec, err := r.Read()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if i == 1 && rec[0] != "0" {
			t.Fatalf("first row: %v", rec)
		}
	}
	resp.Body.Close() // the client goes
	select {
	case <-handled:
	case <-time.After(30 * time.Second): // safety net
		t.Fatal("the export did not stop after the client left")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	pages := len(g.calls)
	for i, n := range g.calls {
		if n > csvPage {
			t.Fatalf("call %d copied %d rows at once; at most a page (%d)", i, n, csvPage)
		}
	}
	// Pass one reads every page for the column names (200 calls); pass
	// two must stop at the page it was waiting for when the client left.
	if want := 100000/csvPage + 2; pages > want {
		t.Fatalf("%d pages read; the export went on after the client left (want at most %d)", pages, want)
	}
}

// TestCSVExportThatFailsMidwayIsNotComplete: the read model fails after
// the first pages of an export have gone out. The client must not get a
// well-formed short file it would take for the whole job: the transfer
// fails (the connection is cut before the last chunk).
func TestCSVExportThatFailsMidwayIsNotComplete(t *testing.T) {
	job := projections.Job{ID: "csv", OwnerID: "u1", Status: events.StatusCompleted, Total: 2000}
	g := &generatedRows{total: 2000, failFrom: 2 * csvPage, columns: func(int) map[string]any { return nil }}
	ts := serveReal(t, Deps{Auth: okAuth{}, Jobs: feedJob{job}, Results: g})
	defer closeIdle(http.DefaultClient)
	resp := get(t, ts.URL, "x", "/api/batch/jobs/csv/results?format=csv")
	defer resp.Body.Close()
	recs, err := readRecords(resp.Body)
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("status %d, %d records, read error %v; want the transfer to fail", resp.StatusCode, len(recs), err)
	}
	if len(recs) != 1+2*csvPage {
		t.Fatalf("%d records before the failure, want the header and two pages", len(recs))
	}
}

// readRecords reads CSV records until the end or an error, returning the
// records read before it (csv's ReadAll drops them).
func readRecords(r io.Reader) ([][]string, error) {
	cr := csv.NewReader(r)
	var out [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

// TestCSVColumnBudget: 200 distinct client columns export; 201 are
// refused with a 400 that says why and what to use instead.
func TestCSVColumnBudget(t *testing.T) {
	job := projections.Job{ID: "cols", OwnerID: "u1", Status: events.StatusCompleted, Total: 300}
	export := func(distinct int) (int, string) {
		g := &generatedRows{total: 300, columns: func(i int) map[string]any {
			return map[string]any{fmt.Sprintf("col_%03d", i%distinct): i}
		}}
		h := New(Deps{Auth: okAuth{}, Jobs: feedJob{job}, Results: g, Log: slog.New(slog.DiscardHandler)})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/batch/jobs/cols/results?format=csv", nil)
		req.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	code, body := export(MaxCSVExtraColumns)
	if code != http.StatusOK {
		t.Fatalf("%d columns: %d %s", MaxCSVExtraColumns, code, body)
	}
	header, err := csv.NewReader(strings.NewReader(body)).Read()
	if err != nil || len(header) != 14+MaxCSVExtraColumns {
		t.Fatalf("header has %d columns (%v), want %d", len(header), err, 14+MaxCSVExtraColumns)
	}
	code, body = export(MaxCSVExtraColumns + 1)
	var e map[string]string
	_ = json.Unmarshal([]byte(body), &e)
	if code != http.StatusBadRequest || e["code"] != "invalid" || !strings.Contains(e["detail"], "more than 200 distinct extra columns") {
		t.Fatalf("%d columns: %d %s, want 400 naming the budget", MaxCSVExtraColumns+1, code, body)
	}
}
