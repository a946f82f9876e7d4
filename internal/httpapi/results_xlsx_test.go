package httpapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sheet"
	"github.com/tagstream/tagstream/projections"
)

// TestXLSXExportColumnsBudgetAndDefusedCells: the spreadsheet export has
// the CSV's columns and rows over several pages, defuses formula-looking
// cells like the CSV, and refuses more extra columns than the budget.
func TestXLSXExportColumnsBudgetAndDefusedCells(t *testing.T) {
	const total = csvPage*2 + 7
	job := projections.Job{ID: "xl", OwnerID: "u1", Status: events.StatusCompleted, Total: total}
	export := func(distinct int) (int, []byte) {
		g := &generatedRows{total: total, columns: func(i int) map[string]any {
			return map[string]any{fmt.Sprintf("col_%03d", i%distinct): "=cmd|' /C calc'!A0", "dept": i}
		}}
		h := New(Deps{Auth: okAuth{}, Jobs: feedJob{job}, Results: g, Log: slog.New(slog.DiscardHandler)})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/batch/jobs/xl/results?format=xlsx", nil)
		req.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	code, body := export(3)
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	header, recs, err := sheet.ReadXLSX(bytes.NewReader(body), sheet.Limits{MaxRows: total})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(header, ","); got != "row_id,title,file_path,file_source_type,description,col_000,col_001,col_002,dept,status,tags,error,attempts,pages_read,extraction_method,model,total_tokens,duration_ms" {
		t.Fatalf("header %s", got)
	}
	if len(recs) != total {
		t.Fatalf("%d rows, want %d", len(recs), total)
	}
	last := recs[total-1]
	if last[0] != fmt.Sprint(total-1) || last[1] != fmt.Sprintf("doc %d", total-1) || last[8] != fmt.Sprint(total-1) || last[9] != "tagged" {
		t.Fatalf("last row %q", last)
	}
	if c := recs[0][5]; c != "'=cmd|' /C calc'!A0" {
		t.Fatalf("formula cell not defused: %q", c)
	}
	if code, body := export(MaxCSVExtraColumns - 1); code != 200 || !bytes.HasPrefix(body, []byte("PK")) {
		t.Fatalf("%d columns (with dept): status %d", MaxCSVExtraColumns, code)
	}
	if code, body := export(MaxCSVExtraColumns); code != 400 || !strings.Contains(string(body), "format=json") {
		t.Fatalf("over budget: %d %s", code, body)
	}
}
