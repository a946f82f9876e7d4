package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/services/retention"
)

// An organisation's retention period erases its ended jobs through the
// same erase command as POST .../erase, as the system: not a day early, not
// while a legal hold stands, and once only. The sweeper's clock is moved;
// everything else (serve, JetStream, the read database, the erasure) is
// real.
func TestRetentionErasesOrganisationJobsThroughTheEraseCommand(t *testing.T) {
	cfg := testConfig(t)
	e := startEnv(t, cfg, &fakeTagger{})
	admin := e.register("admin@example.com")
	org := e.mustCall("POST", "/api/orgs", admin.token, map[string]any{"name": "Records"}, 201)["org_id"].(string)
	e.mustCall("PATCH", "/api/orgs/"+org+"/settings", admin.token, map[string]any{"retention_days": 30}, 200)
	docs := []map[string]any{{"title": "Retentionword8812 circular", "file_path": "archive/Retentionword8812.pdf"}}
	job := e.mustCall("POST", "/api/batch/start", admin.token, map[string]any{"documents": docs, "org_id": org,
		"config": map[string]any{"model_name": "builtin/keywords"}}, 200)["job_id"].(string)
	e.waitStatus(admin, job, 30*time.Second, "completed")
	if _, body := e.get("/api/documents?q=retentionword8812", admin.token); !strings.Contains(body, job) {
		t.Fatalf("before retention the search does not find the job: %s", body)
	}

	now := time.Now()
	sweeper := retention.New(e.app.store, retentionEraser{e.app.governance}, retention.Config{Now: func() time.Time { return now }, Log: testLogger()})
	sweep := func() retention.Result {
		t.Helper()
		res, err := sweeper.Sweep(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	now = now.Add(29 * 24 * time.Hour)
	if res := sweep(); len(res.Erased)+len(res.Refused)+len(res.Failed) != 0 {
		t.Fatalf("day 29 of 30: %+v", res)
	}
	e.mustCall("POST", "/api/batch/jobs/"+job+"/legal-hold", admin.token, map[string]any{"on": true, "reason": "audit 9"}, 200)
	now = now.Add(2 * 24 * time.Hour)
	if res := sweep(); fmt.Sprint(res.Refused) != fmt.Sprint([]string{job}) || len(res.Erased) != 0 {
		t.Fatalf("day 31 under legal hold: %+v", res)
	}
	e.mustCall("POST", "/api/batch/jobs/"+job+"/legal-hold", admin.token, map[string]any{"on": false, "reason": "closed"}, 200)
	if res := sweep(); fmt.Sprint(res.Erased) != fmt.Sprint([]string{job}) {
		t.Fatalf("day 31, hold lifted: %+v", res)
	}
	if res := sweep(); len(res.Erased)+len(res.Refused)+len(res.Failed) != 0 {
		t.Fatalf("a second sweep erases again: %+v", res)
	}
	// A process started later (a restart) folds the JobErased and leaves
	// the job alone.
	sweeper = retention.New(e.app.store, retentionEraser{e.app.governance}, retention.Config{Now: func() time.Time { return now }, Log: testLogger()})
	if res := sweep(); len(res.Erased)+len(res.Refused)+len(res.Failed) != 0 {
		t.Fatalf("a restarted sweeper erases again: %+v", res)
	}

	if _, body := e.get("/api/documents?q=retentionword8812", admin.token); strings.Contains(body, job) {
		t.Fatalf("after retention the search still finds the job: %s", body)
	}
	if _, body := e.get("/api/batch/jobs/"+job+"/results?format=csv", admin.token); strings.Contains(strings.ToLower(body), "retentionword8812") {
		t.Fatalf("after retention the results still hold the title: %s", body)
	}
	if st := e.status(admin, job); st["status"] != "completed" || fmt.Sprint(st["processed_count"]) != "1" {
		t.Fatalf("after retention the counts changed: %v", st)
	}
	var erased int
	for _, env := range e.finalHistory(job) {
		if env.Type == "JobErased" {
			erased++
			if env.Actor.Kind != "system" {
				t.Fatalf("retention erased as %+v, want the system", env.Actor)
			}
		}
	}
	if erased != 1 {
		t.Fatalf("%d JobErased events, want 1", erased)
	}
}
