package main

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSearchDocumentsEndToEnd runs serve with the fake model: jobs of two
// users are tagged, then found over real HTTP by a tag, a word of a
// title, a Hindi word, a word of an extra column, page by page and as
// CSV; the other user finds none of them, an auditor finds them with
// all=true, and a restart resumes the read database from its checkpoint.
func TestSearchDocumentsEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	tagger := &fakeTagger{}
	e := startEnv(t, cfg, tagger)
	alice, bob, auditor := e.register("alice@example.com"), e.register("bob@example.com"), e.register("auditor@example.com")
	job := e.mustCall("POST", "/api/batch/start", alice.token, map[string]any{
		"documents": []map[string]any{
			{"file_path": "a.pdf", "title": "Railway circular 2024", "description": "Fares for suburban trains"},
			{"file_path": "b.pdf", "title": "हिंदी रेलवे परिपत्र"},
			{"file_path": "c.pdf", "title": "Budget notes", "department": "Finance"},
		},
		"config": map[string]any{"model_name": "builtin/keywords"},
	}, http.StatusOK)["job_id"].(string)
	e.waitStatus(alice, job, 30*time.Second, "completed")
	bobJob := e.startJob(bob, 1, nil)
	e.waitStatus(bob, bobJob, 30*time.Second, "completed")

	cur := e // the running serve; replaced after the restart
	search := func(u user, query string) map[string]any {
		t.Helper()
		return cur.mustCall("GET", "/api/documents?"+query, u.token, nil, http.StatusOK)
	}
	titles := func(body map[string]any) string {
		var out []string
		for _, d := range body["documents"].([]any) {
			out = append(out, d.(map[string]any)["title"].(string))
		}
		return strings.Join(out, "|")
	}
	// No waiting here: the job's status and the search come from models
	// the SQL runner commits in the same batch, so a completed status
	// means its documents are searchable.
	check := func() {
		t.Helper()
		e := cur
		for query, want := range map[string]string{
			"tag=FAKE": "Budget notes|हिंदी रेलवे परिपत्र|Railway circular 2024",
			"tag=" + url.QueryEscape("tag Budget notes"): "Budget notes",
			"q=railway":  "Railway circular 2024",
			"q=circular": "Railway circular 2024",
			"q=" + url.QueryEscape("परिपत्र"): "हिंदी रेलवे परिपत्र",
			"q=suburban":                 "Railway circular 2024",
			"q=finance":                  "Budget notes",
			"q=fin*&tag=fake":            "Budget notes",
			"job_id=" + job + "&q=notes": "Budget notes",
		} {
			if got := titles(search(alice, query)); got != want {
				t.Errorf("alice %s: %q, want %q", query, got, want)
			}
		}
		var paged []string
		for q := "tag=fake&limit=1"; ; {
			body := search(alice, q)
			paged = append(paged, titles(body))
			next, _ := body["next_cursor"].(string)
			if next == "" {
				break
			}
			if len(paged) > 3 {
				t.Fatal("paging does not end")
			}
			q = "tag=fake&limit=1&cursor=" + url.QueryEscape(next)
		}
		if strings.Join(paged, "|") != "Budget notes|हिंदी रेलवे परिपत्र|Railway circular 2024" {
			t.Errorf("pages: %q", paged)
		}
		for _, q := range []string{"q=railway", "q=" + url.QueryEscape("परिपत्र"), "tag=" + url.QueryEscape("tag Budget notes"), "job_id=" + job, "all=true&q=finance"} {
			if got := titles(search(bob, q)); got != "" {
				t.Errorf("bob %s sees alice's documents: %q", q, got)
			}
		}
		if got := titles(search(auditor, "all=true&q=railway")); got != "Railway circular 2024" {
			t.Errorf("the auditor's all=true search: %q", got)
		}
		st := e.mustCall("GET", "/api/history/stats", alice.token, nil, http.StatusOK)
		if st["total_jobs"] != 1.0 || st["total_documents"] != 3.0 || st["jobs_by_status"].(map[string]any)["completed"] != 1.0 {
			t.Errorf("alice's stats: %v", st)
		}
		if st := e.mustCall("GET", "/api/history/stats?all=true", auditor.token, nil, http.StatusOK); st["total_jobs"] != 2.0 {
			t.Errorf("everyone's stats: %v", st)
		}
		if sum := e.mustCall("GET", "/api/analytics/summary?mine=true", alice.token, nil, http.StatusOK); sum["documents"] != 3.0 {
			t.Errorf("alice's analytics: %v", sum)
		}
		// all=false is one's own, as mine=true, not the default (wide):
		// the auditor owns no job.
		for q, want := range map[string]float64{"": 4, "all=true": 4, "all=false": 0, "mine=true": 0, "all=false&mine=true": 0} {
			if sum := e.mustCall("GET", "/api/analytics/summary?"+q, auditor.token, nil, http.StatusOK); sum["documents"] != want {
				t.Errorf("the auditor's analytics with %q: %v documents, want %v", q, sum["documents"], want)
			}
		}
		for _, q := range []string{"all=true&mine=true", "all=false&mine=false"} {
			if body := e.mustCall("GET", "/api/analytics/summary?"+q, auditor.token, nil, http.StatusBadRequest); body["field"] != "mine" {
				t.Errorf("analytics with %q: %v, want mine named", q, body)
			}
		}
	}
	check()

	req, _ := http.NewRequest("GET", e.url+"/api/documents?format=csv&tag=fake", nil)
	req.Header.Set("Authorization", "Bearer "+alice.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || len(recs) != 4 || recs[0][0] != "job_id" || recs[3][3] != "Railway circular 2024" {
		t.Fatalf("CSV export: %q %v", recs, err)
	}

	e.shutdown()
	cur = startEnv(t, cfg, tagger)
	check()
}
