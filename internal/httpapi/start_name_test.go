package httpapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services"
)

// TestStartRequestName: a job's optional name is trimmed, at most 200
// characters (not bytes), and refused with a 400 naming "name" otherwise.
func TestStartRequestName(t *testing.T) {
	body := func(name string) string {
		return `{"documents":[{"file_path":"a.pdf"}],"name":` + quote(name) + `}`
	}
	for _, tc := range []struct{ in, want string }{
		{"  Quarterly reports  ", "Quarterly reports"},
		{"", ""},
		{strings.Repeat("é", 200), strings.Repeat("é", 200)},
		{" " + strings.Repeat("x", 200) + " ", strings.Repeat("x", 200)},
	} {
		cmd, err := DecodeStartRequest(strings.NewReader(body(tc.in)), services.Caller{})
		if err != nil {
			t.Fatalf("name %q: %v", tc.in, err)
		}
		if cmd.Config.Name != tc.want {
			t.Fatalf("name %q: stored %q, want %q", tc.in, cmd.Config.Name, tc.want)
		}
	}
	for _, bad := range []string{strings.Repeat("x", 201), strings.Repeat("é", 201), "two\nlines", "tab\there", "report\u202Efdp.exe"} {
		_, err := DecodeStartRequest(strings.NewReader(body(bad)), services.Caller{})
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field != "name" {
			t.Fatalf("name of %d characters %q: got %v, want an invalid-input error on field name", len([]rune(bad)), bad[:min(len(bad), 20)], err)
		}
	}
	// A name that is not a string is a 400 too, not a 500.
	_, err := DecodeStartRequest(strings.NewReader(`{"documents":[{"file_path":"a.pdf"}],"name":42}`), services.Caller{})
	assertClientError(t, "numeric name", err)
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}
