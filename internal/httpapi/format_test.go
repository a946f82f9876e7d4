package httpapi

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// An unknown format is a 400 naming it on every read that takes one
// (results?format=xml answered JSON as if asked for), an empty one is the
// default as for every other parameter, and a results file refuses the
// JSON pages' cursor and limit instead of ignoring them.
func TestFormatIsCheckedOnEveryRead(t *testing.T) {
	job := projections.Job{ID: "fmt", OwnerID: "u1", Status: events.StatusCompleted, Total: 3}
	g := &generatedRows{total: 3, columns: func(int) map[string]any { return nil }}
	ts := httptest.NewServer(New(Deps{Auth: okAuth{}, Jobs: feedJob{job}, Results: g, Log: slog.New(slog.DiscardHandler)}))
	defer ts.Close()
	defer closeIdle(ts.Client())
	results := "/api/batch/jobs/fmt/results"
	for path, field := range map[string]string{
		results + "?format=xml":           "format",
		results + "?format=CSV":           "format",
		results + "?format=pdf":           "format",
		results + "?format=csv&limit=2":   "limit",
		results + "?format=xlsx&cursor=1": "cursor",
		"/api/batch/template?format=xlsx": "format",
		"/api/batch/template?format=JSON": "format",
	} {
		if body := getJSON(t, ts.URL, "x", path, 400); body["field"] != field {
			t.Errorf("%s: %v, want the field %s named", path, body, field)
		}
	}
	for path, contentType := range map[string]string{
		results + "?format=":          "application/json; charset=utf-8",
		results + "?format=json":      "application/json; charset=utf-8",
		results + "?format=csv":       "text/csv; charset=utf-8",
		"/api/batch/template":         "text/csv; charset=utf-8",
		"/api/batch/template?format=": "text/csv; charset=utf-8",
	} {
		resp := get(t, ts.URL, "x", path)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != contentType {
			t.Errorf("%s: %d %s, want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), contentType)
		}
	}
}
