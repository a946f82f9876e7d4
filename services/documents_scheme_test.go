package services

import (
	"errors"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/apperr"
)

// TestOtherSchemesAreRefusedNotTakenAsLocalPaths: only http(s) and s3 are
// URLs; file:// and friends are refused naming the row and field, never
// read as a relative path under the local root.
func TestOtherSchemesAreRefusedNotTakenAsLocalPaths(t *testing.T) {
	for _, tc := range []struct{ path, typ string }{
		{"file:///etc/passwd", ""},
		{"FILE:///etc/passwd", ""},
		{"ftp://example.org/a.pdf", ""},
		{"file:///etc/passwd", "local"},
	} {
		row := map[string]any{"file_path": tc.path}
		if tc.typ != "" {
			row["file_source_type"] = tc.typ
		}
		_, err := NormalizeDocuments([]map[string]any{{"file_path": "ok.pdf"}, row}, nil)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field != "documents[1].file_path" ||
			!strings.Contains(ae.Message, "unsupported scheme") {
			t.Errorf("%q (type %q): %v, want 400 on documents[1].file_path naming the unsupported scheme", tc.path, tc.typ, err)
		}
	}
	for _, ok := range []string{"reports/a.pdf", "C:/x/a.pdf", "a:b.pdf", "https://example.org/a.pdf", "s3://b/k.pdf"} {
		if _, err := NormalizeDocuments([]map[string]any{{"file_path": ok}}, nil); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}
