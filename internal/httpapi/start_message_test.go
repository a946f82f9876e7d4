package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStartMessageCountsInTheRightNumber: "1 document", "2 documents".
func TestStartMessageCountsInTheRightNumber(t *testing.T) {
	h := New(Deps{Auth: okAuth{}, Start: okStarter{}, Freshness: freshness{}})
	for body, want := range map[string]string{
		`{"documents":[{"file_path":"a.pdf"}]}`:                       "Batch job started with 1 document",
		`{"documents":[{"file_path":"a.pdf"},{"file_path":"b.pdf"}]}`: "Batch job started with 2 documents",
	} {
		req := httptest.NewRequest("POST", "/api/batch/start", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer x")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out struct{ Message string }
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		if rec.Code != http.StatusOK || out.Message != want {
			t.Errorf("%s: %d %q, want %q", body, rec.Code, out.Message, want)
		}
	}
}
