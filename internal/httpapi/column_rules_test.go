package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/tagstream/tagstream/internal/csvin"
)

// TestColumnRulesServeTheCLIsRules: the console's auto-mapping comes from
// the same table the CLI uses.
func TestColumnRulesServeTheCLIsRules(t *testing.T) {
	h := New(Deps{Auth: okAuth{}})
	req := httptest.NewRequest("GET", "/api/batch/column-rules", nil)
	req.Header.Set("Authorization", "Bearer x")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out struct {
		Separators []string          `json:"separators"`
		Fields     []csvin.FieldRule `json:"fields"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if !slices.Equal(out.Separators, []string{",", ";", "\t"}) || len(out.Fields) != len(csvin.Rules) ||
		out.Fields[0].Field != "file_path" || !slices.Contains(out.Fields[0].Names, "document_url") {
		t.Fatalf("rules: %+v", out)
	}
}

// TestStatusSaysWhetherTheServerHasAKey: a yes/no, never the key.
func TestStatusSaysWhetherTheServerHasAKey(t *testing.T) {
	for _, has := range []bool{false, true} {
		h := New(Deps{Auth: okAuth{}, ServerHasKey: has})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/status", nil))
		var out map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out["server_has_key"] != has {
			t.Fatalf("has=%v: %d %s", has, rec.Code, rec.Body)
		}
	}
}
