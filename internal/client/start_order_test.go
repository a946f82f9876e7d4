package client

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStartRequestKeepsColumnOrder: documents go out with their columns
// in the file's order (a map alone would sort them), the rest unchanged.
func TestStartRequestKeepsColumnOrder(t *testing.T) {
	req := StartRequest{Documents: []map[string]string{{"zone": "n", "Document URL": "a.pdf", "budget": "1", "late": "x"}},
		ColumnMapping: map[string]string{"Document URL": "file_path"}, JobID: "j",
		Config: StartConfig{ModelName: "builtin/keywords"}, Columns: []string{"zone", "Document URL", "budget"}}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"documents":[{"zone":"n","Document URL":"a.pdf","budget":"1","late":"x"}]`) ||
		!strings.Contains(string(b), `"job_id":"j"`) || !strings.Contains(string(b), `"column_mapping":{"Document URL":"file_path"}`) ||
		strings.Count(string(b), `"documents"`) != 1 || strings.Contains(string(b), "Columns") {
		t.Fatalf("%s", b)
	}
}
