package httpapi

import (
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// TestResultsCSVKeepsTheClientsColumns: the start request's column order
// (first seen across rows) is recorded, and the export heads its columns
// in that order, the path column by the client's own name.
func TestResultsCSVKeepsTheClientsColumns(t *testing.T) {
	body := `{"column_mapping":{"Document URL":"file_path"},"documents":[
		{"zone":"north","Document URL":"a.pdf","budget":1},
		{"Document URL":"b.pdf","agency":"water","zone":"south"}]}`
	cmd, rows := exportCSV(t, body)
	if want := []string{"zone", "Document URL", "budget", "agency"}; !slices.Equal(cmd.Columns, want) {
		t.Fatalf("recorded columns %q, want %q", cmd.Columns, want)
	}
	want := []string{"row_id", "title", "Document URL", "file_source_type", "description", "zone", "budget", "agency"}
	if !slices.Equal(rows[0][:len(want)], want) {
		t.Fatalf("header %q, want it to start %q", rows[0], want)
	}
	if rows[2][2] != "b.pdf" || rows[2][5] != "south" || rows[2][7] != "water" {
		t.Fatalf("row 1: %q", rows[2])
	}
}

// exportCSV starts a job from a start body, as far as the read model, and
// exports its results as CSV.
func exportCSV(t *testing.T, body string) (services.StartJob, [][]string) {
	t.Helper()
	cmd, err := DecodeStartRequest(strings.NewReader(body), services.Caller{})
	if err != nil {
		t.Fatal(err)
	}
	// The results read model fed the events a start with that request writes.
	docs, err := services.NormalizeDocuments(cmd.Documents, cmd.ColumnMapping)
	if err != nil {
		t.Fatal(err)
	}
	res := projections.NewDocumentResults()
	for _, ev := range []events.Event{
		events.DocumentsSubmitted{InputID: "in", Documents: docs},
		events.JobStarted{InputID: "in", Chunks: 1, Total: len(docs), ColumnMapping: cmd.ColumnMapping, Columns: cmd.Columns},
	} {
		env, err := events.New("cols", events.User("u1", "u@example.com"), ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	job := projections.Job{ID: "cols", OwnerID: "u1", Status: events.StatusProcessing, Total: len(docs),
		Columns: cmd.Columns, ColumnMapping: cmd.ColumnMapping}
	h := New(Deps{Auth: okAuth{}, Jobs: feedJob{job}, Results: res, Log: slog.New(slog.DiscardHandler)})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/batch/jobs/cols/results?format=csv", nil)
	req.Header.Set("Authorization", "Bearer x")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return cmd, rows
}

// A client's column named like an export column ("model", or "row_id"
// mapped to the title) keeps its value under "NAME (column)": the header
// named two columns alike, and a reader by name took the wrong one.
func TestResultsCSVHeaderNamesEachColumnOnce(t *testing.T) {
	_, rows := exportCSV(t, `{"column_mapping":{"row_id":"title"},"documents":[
		{"row_id":"Vehicle circular","file_path":"a.pdf","model":"Tata Nexon"}]}`)
	seen := map[string]int{}
	for i, h := range rows[0] {
		if _, dup := seen[h]; dup {
			t.Fatalf("header %q names %q twice", rows[0], h)
		}
		seen[h] = i
	}
	if rows[1][seen["row_id"]] != "0" || rows[1][seen["row_id (column)"]] != "Vehicle circular" || rows[1][seen["model (column)"]] != "Tata Nexon" {
		t.Fatalf("header %q, row %q", rows[0], rows[1])
	}
}

// A query parameter the endpoint does not take is a 400 naming it and
// what the endpoint takes: results?status=failed answered every row, as
// if it had filtered them.
func TestUnknownQueryParametersAreRefused(t *testing.T) {
	res, job := bigJob(t, "params", 2, func(int) map[string]any { return nil })
	h := New(Deps{Auth: okAuth{}, Jobs: feedJob{job}, Results: res, Log: slog.New(slog.DiscardHandler)})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for path, field := range map[string]string{
		"/api/batch/jobs/params/results?status=failed": "status",
		"/api/batch/jobs/params/status?verbose=1":      "verbose",
	} {
		if code, body := get(path); code != http.StatusBadRequest || !strings.Contains(body, `"field":"`+field+`"`) {
			t.Errorf("GET %s: %d %s, want 400 naming %s", path, code, body, field)
		}
	}
	if code, body := get("/api/batch/jobs/params/results?limit=1"); code != http.StatusOK {
		t.Errorf("a parameter the endpoint takes: %d %s", code, body)
	}
	// A monitor's probe may carry its own parameters.
	if code, body := get("/api/health?probe=lb"); code == http.StatusBadRequest {
		t.Errorf("health with a probe's parameter: %d %s", code, body)
	}
}
