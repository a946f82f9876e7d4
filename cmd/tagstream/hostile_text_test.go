package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services/pipeline"
)

// Text the log carries is not all the API's to check: a model's answer,
// a document server's error, a column of the client's sheet. A NUL or a
// byte that is not UTF-8 in any of them must neither stop a read model
// (PostgreSQL's text refuses both, and a stopped model stops every
// user's reads) nor reach an event through the API's own fields.
func TestHostileTextInTheLogKeepsEveryModelRunning(t *testing.T) {
	eachReadStore(t, func(t *testing.T, _ string, cfg config) {
		e := startEnv(t, cfg, &fakeTagger{fail: func(in pipeline.TagInput) error {
			if strings.HasPrefix(in.Document.Title, "Broken") {
				return errors.New("model said \x00 and \xff\xfe")
			}
			return nil
		}})
		u := e.register("mallory@example.com")
		job := e.startJob(u, 2, map[string]any{"documents": []map[string]any{
			{"file_path": "a.pdf", "title": "Broken scan"},
			{"file_path": "b.pdf", "title": "Circular", "Remarks": "x\u0000y"},
		}})
		e.waitStatus(u, job, 30*time.Second, "completed")
		if err := e.app.fresh.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{projections.JobStatusName, projections.DocumentResultsName, projections.DocumentSearchName} {
			if st := statusOf(e.app.read, name); st.State != projections.StateRunning {
				t.Fatalf("%s is %s at seq %d: %s", name, st.State, st.FailedSeq, st.Reason)
			}
		}
		rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, http.StatusOK)["results"].([]any)
		var failed, extra string
		for _, r := range rows {
			m := r.(map[string]any)
			if m["title"] == "Broken scan" {
				failed, _ = m["error"].(string)
			} else {
				extra, _ = m["Remarks"].(string)
			}
		}
		// The error's NUL is stored as U+FFFD (its invalid bytes were
		// already replaced in the event's JSON), on both stores alike;
		// the client's column, kept as JSON, comes back as sent.
		if failed != "model said \uFFFD and \uFFFD\uFFFD" || extra != "x\x00y" {
			t.Fatalf("results: error %q, Remarks %q; rows %v", failed, extra, rows)
		}
		hits := e.mustCall("GET", "/api/documents?q=circular", u.token, nil, http.StatusOK)["documents"].([]any)
		if len(hits) != 1 {
			t.Fatalf("search for circular: %v", hits)
		}
		// The API's own free text refuses what it would have to store.
		before := len(e.history(job))
		for action, body := range map[string]map[string]any{"erase": {}, "legal-hold": {"on": true}} {
			body["reason"] = "because\x00"
			st, body := e.call("POST", "/api/batch/jobs/"+job+"/"+action, u.token, body)
			if st != http.StatusBadRequest || body["field"] != "reason" {
				t.Fatalf("%s with a NUL in its reason: %d %v, want 400 naming reason", action, st, body)
			}
		}
		if after := len(e.history(job)); after != before {
			t.Fatalf("refused requests appended %d events", after-before)
		}
	})
}
