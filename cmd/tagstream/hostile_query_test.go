package main

import (
	"net/http"
	"strings"
	"testing"
)

// Query parameters reach SQL on the read side: bytes either store
// refuses (PostgreSQL takes no NUL in text; neither should take bytes
// that are not UTF-8) must be a 400 naming the parameter on both
// stores, never the store's error as a 500.
func TestHostileQueryParametersOnBothReadStores(t *testing.T) {
	cases := []struct{ path, field string }{
		{"/api/batch/jobs?q=a%00b", "q"},
		{"/api/batch/jobs?q=%FF%FE", "q"},
		{"/api/batch/jobs?q=%00&all=true", "q"},
		{"/api/batch/jobs?cursor=%00", "cursor"},
		{"/api/batch/jobs?cursor=" + strings.Repeat("A", 5000), "cursor"},
		{"/api/batch/jobs?status=%00", "status"},
		{"/api/batch/jobs?org_id=%00", "org_id"},
		{"/api/batch/active?org_id=a%00", "org_id"},
		{"/api/documents?q=%00", "q"},
		{"/api/documents?tag=a%00b", "tag"},
		{"/api/documents?tag=%C0%AF", "tag"},
		{"/api/documents?job_id=%00", "job_id"},
		{"/api/documents?since=%00", "since"},
		{"/api/documents?cursor=%FF", "cursor"},
		{"/api/documents?format=csv&q=a%00", "q"},
		{"/api/history/stats?org_id=%FF", "org_id"},
		{"/api/analytics/summary?org_id=%00", "org_id"},
	}
	eachReadStore(t, func(t *testing.T, _ string, cfg config) {
		e := startEnv(t, cfg, &fakeTagger{})
		u := e.register("mallory@example.com")
		e.startJob(u, 1, nil)
		for _, c := range cases {
			st, body := e.call("GET", c.path, u.token, nil)
			if st != http.StatusBadRequest && st != http.StatusNotFound || body["field"] != c.field {
				t.Errorf("GET %.80s: %d %v, want 400 (or 404) naming %s", c.path, st, body, c.field)
			}
		}
		// The store is still answering honest reads.
		e.mustCall("GET", "/api/batch/jobs?q=job", u.token, nil, http.StatusOK)
	})
}
