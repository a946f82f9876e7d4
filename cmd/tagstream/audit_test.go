package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/services/pipeline"
)

func TestRetryAfterTwoFailedAttemptsThenSuccess(t *testing.T) {
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		if in.Document.Row == 2 && in.Attempt < 3 {
			return &pipeline.Failure{Code: "llm_server", Reason: fmt.Sprintf("model unavailable (attempt %d)", in.Attempt)}
		}
		return nil
	}}
	e := startEnv(t, testConfig(t), tagger)
	u := e.register("alice@example.com")
	job := e.startJob(u, 4, nil)
	st := e.waitStatus(u, job, 20*time.Second, "completed")
	if st["failed_count"].(float64) != 1 {
		t.Fatalf("first attempt: %v", st)
	}
	e.mustCall("POST", "/api/batch/jobs/"+job+"/retry", u.token, nil, http.StatusOK) // attempt 2 fails again
	st = e.waitStatus(u, job, 20*time.Second, "completed")
	if st["failed_count"].(float64) != 1 || st["attempt"].(float64) != 2 {
		t.Fatalf("second attempt: %v", st)
	}
	out := e.mustCall("POST", "/api/batch/jobs/"+job+"/retry", u.token, map[string]any{"reason": "provider recovered"}, http.StatusOK)
	if out["documents"].(float64) != 1 || out["attempt"].(float64) != 3 {
		t.Fatalf("retry answer: %v", out)
	}
	st = e.waitStatus(u, job, 20*time.Second, "completed")
	if st["processed_count"].(float64) != 4 || st["failed_count"].(float64) != 0 {
		t.Fatalf("after the third attempt: %v", st)
	}
	rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, 200)["results"].([]any)
	r2 := rows[2].(map[string]any)
	if r2["status"] != "success" || r2["attempts"].(float64) != 3 || r2["error"] != nil {
		t.Fatalf("row 2: %v", r2)
	}
	if r0 := rows[0].(map[string]any); r0["attempts"].(float64) != 1 {
		t.Fatalf("row 0 was re-run: %v", r0)
	}
	// The trail keeps every attempt and who asked for each retry.
	evs := e.mustCall("GET", "/api/batch/jobs/"+job+"/events", u.token, nil, 200)["events"].([]any)
	var failures, retries int
	for _, raw := range evs {
		ev := raw.(map[string]any)
		data := ev["data"].(map[string]any)
		switch ev["type"] {
		case "DocumentFailed":
			failures++
		case "JobRetried":
			retries++
			actor := ev["actor"].(map[string]any)
			if actor["id"] != u.id || actor["email"] != u.email || len(data["rows"].([]any)) != 1 {
				t.Errorf("retry event: %v", ev)
			}
		}
	}
	if failures != 2 || retries != 2 {
		t.Fatalf("trail has %d failures and %d retries, want 2 and 2", failures, retries)
	}
	// Nothing left to retry, and a running job cannot be retried.
	e.mustCall("POST", "/api/batch/jobs/"+job+"/retry", u.token, nil, http.StatusConflict)
	tagger.setGate(make(chan struct{}))
	running := e.startJob(u, 2, nil)
	e.mustCall("POST", "/api/batch/jobs/"+running+"/retry", u.token, nil, http.StatusConflict)
	// Cancelled documents are re-run only when asked.
	e.mustCall("POST", "/api/batch/jobs/"+running+"/cancel", u.token, nil, 200)
	e.mustCall("POST", "/api/batch/jobs/"+running+"/retry", u.token, nil, http.StatusConflict)
	tagger.setGate(nil)
	out = e.mustCall("POST", "/api/batch/jobs/"+running+"/retry", u.token, map[string]any{"include_cancelled": true}, 200)
	if out["documents"].(float64) < 1 {
		t.Fatalf("include_cancelled retry: %v", out)
	}
	e.waitStatus(u, running, 20*time.Second, "completed")
}

func TestAuditTrailOfPausedResumedCancelledRetriedJob(t *testing.T) {
	tagger := &fakeTagger{gate: make(chan struct{})}
	e := startEnv(t, testConfig(t), tagger)
	u, auditor, bob := e.register("alice@example.com"), e.register("auditor@example.com"), e.register("bob@example.com")
	job := e.startJob(u, 8, nil) // more documents than workers: some are never started
	e.mustCall("POST", "/api/batch/jobs/"+job+"/pause", u.token, map[string]any{"reason": "budget review"}, 200)
	e.mustCall("POST", "/api/batch/jobs/"+job+"/resume", u.token, map[string]any{"reason": "approved"}, 200)
	e.mustCall("POST", "/api/batch/jobs/"+job+"/cancel", u.token, map[string]any{"reason": "wrong list"}, 200)
	close(tagger.gate)
	tagger.setGate(nil)
	waitFor(t, "quiet", func() bool { return tagger.running.Load() == 0 })
	e.mustCall("POST", "/api/batch/jobs/"+job+"/retry", u.token, map[string]any{"include_cancelled": true, "reason": "right list after all"}, 200)
	e.waitStatus(u, job, 20*time.Second, "completed")

	e.mustCall("GET", "/api/batch/jobs/"+job+"/events", bob.token, nil, http.StatusNotFound)
	body := e.mustCall("GET", "/api/batch/jobs/"+job+"/events", auditor.token, nil, 200)
	var control []string
	reasons := map[string]string{}
	lastSeq := 0.0
	for _, raw := range body["events"].([]any) {
		ev := raw.(map[string]any)
		if seq := ev["seq"].(float64); seq <= lastSeq {
			t.Fatalf("events out of order at seq %v", seq)
		} else {
			lastSeq = seq
		}
		if ev["time"] == "" || ev["actor"] == nil {
			t.Fatalf("event lacks time or actor: %v", ev)
		}
		typ := ev["type"].(string)
		if strings.HasPrefix(typ, "Job") {
			control = append(control, typ)
			if r, ok := ev["data"].(map[string]any)["reason"].(string); ok {
				reasons[typ] = r
			}
		}
	}
	want := []string{"JobStarted", "JobPaused", "JobResumed", "JobCancelled", "JobRetried", "JobCompleted"}
	if strings.Join(control, ",") != strings.Join(want, ",") {
		t.Fatalf("control events %v, want %v", control, want)
	}
	if reasons["JobPaused"] != "budget review" || reasons["JobCancelled"] != "wrong list" || reasons["JobRetried"] != "right list after all" {
		t.Fatalf("reasons: %v", reasons)
	}
}

func TestResultsCSVAndHistoryAndAnalytics(t *testing.T) {
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		if in.Document.Row == 1 {
			return &pipeline.Failure{Code: "fetch_not_found", Reason: "HTTP 404 from example.org"}
		}
		return nil
	}}
	e := startEnv(t, testConfig(t), tagger)
	u := e.register("alice@example.com")
	req := map[string]any{
		"documents": []any{
			map[string]any{"file_path": "a.pdf", "title": "=HYPERLINK(\"http://evil\")", "Owner": "@finance"},
			map[string]any{"file_path": "b.pdf", "title": "Second, with comma", "Owner": "records"},
		},
		"config": map[string]any{"model_name": "builtin/keywords"},
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, req, 200)["job_id"].(string)
	e.waitStatus(u, job, 20*time.Second, "completed")

	httpReq, _ := http.NewRequest("GET", e.url+"/api/batch/jobs/"+job+"/results?format=csv", nil)
	httpReq.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(httpReq)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("content type %s", resp.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, raw)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, h := range []string{"row_id", "title", "file_path", "Owner", "status", "tags", "error"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("CSV lacks column %s: %v", h, recs[0])
		}
	}
	if got := recs[1][col["title"]]; got != "'=HYPERLINK(\"http://evil\")" {
		t.Errorf("formula not defused: %q", got)
	}
	if got := recs[1][col["Owner"]]; got != "'@finance" {
		t.Errorf("@ cell not defused: %q", got)
	}
	if recs[1][col["status"]] != "success" || recs[1][col["tags"]] == "" {
		t.Errorf("row 0: %v", recs[1])
	}
	if recs[2][col["status"]] != "failed" || recs[2][col["error"]] != "HTTP 404 from example.org" || recs[2][col["title"]] != "Second, with comma" {
		t.Errorf("row 1: %v", recs[2])
	}

	// History: newest first, filtered, paginated with a stable cursor.
	for i := 0; i < 4; i++ {
		j := e.startJob(u, 1, nil)
		e.waitStatus(u, j, 20*time.Second, "completed", "failed")
	}
	page1 := e.mustCall("GET", "/api/batch/jobs?limit=3", u.token, nil, 200)
	jobs1 := page1["jobs"].([]any)
	if len(jobs1) != 3 || page1["next_cursor"] == nil {
		t.Fatalf("page 1: %v", page1)
	}
	page2 := e.mustCall("GET", "/api/batch/jobs?limit=3&cursor="+page1["next_cursor"].(string), u.token, nil, 200)
	jobs2 := page2["jobs"].([]any)
	if len(jobs2) != 2 || page2["next_cursor"] != nil {
		t.Fatalf("page 2: %v", page2)
	}
	if last := jobs2[1].(map[string]any)["job_id"]; last != job {
		t.Fatalf("oldest job last: got %v want %s", last, job)
	}
	e.mustCall("GET", "/api/batch/jobs?status=bogus", u.token, nil, 400)
	e.mustCall("GET", "/api/batch/jobs?cursor=!!", u.token, nil, 400)
	if n := len(e.mustCall("GET", "/api/batch/jobs?status=cancelled", u.token, nil, 200)["jobs"].([]any)); n != 0 {
		t.Fatalf("%d cancelled jobs listed", n)
	}

	sum := e.mustCall("GET", "/api/analytics/summary", u.token, nil, 200)
	if sum["documents"].(float64) != 6 || sum["jobs_by_status"].(map[string]any)["completed"].(float64) != 5 {
		t.Fatalf("analytics: %v", sum)
	}
	reasons := sum["top_failure_reasons"].([]any)
	if len(reasons) == 0 || reasons[0].(map[string]any)["value"] != "HTTP 404 from example.org" {
		t.Fatalf("failure reasons: %v", reasons)
	}
	if len(sum["top_tags"].([]any)) == 0 || len(sum["models"].([]any)) != 1 || len(sum["documents_per_day"].([]any)) != 1 {
		t.Fatalf("analytics: %v", sum)
	}
	other := e.register("bob@example.com")
	if n := e.mustCall("GET", "/api/analytics/summary", other.token, nil, 200)["documents"].(float64); n != 0 {
		t.Fatalf("bob sees %v of alice's documents", n)
	}
}

func TestTemplateAndValidatePaths(t *testing.T) {
	cfg := testConfig(t)
	cfg.LocalRoot = t.TempDir()
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("alice@example.com")
	req, _ := http.NewRequest("GET", e.url+"/api/batch/template", nil)
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(recs) < 2 || strings.Join(recs[0], ",") != "title,file_path,file_source_type,description" {
		t.Fatalf("template: %v %v", recs, err)
	}
	cols := e.mustCall("GET", "/api/batch/template?format=json", u.token, nil, 200)["columns"].([]any)
	if len(cols) != 4 || cols[1].(map[string]any)["required"] != true {
		t.Fatalf("template columns: %v", cols)
	}
	writeTestFile(t, cfg.LocalRoot+"/good.pdf", "%PDF-1.4\n%%EOF\n")
	writeTestFile(t, cfg.LocalRoot+"/fake.pdf", "<html>not a pdf</html>")
	out := e.mustCall("POST", "/api/batch/validate-paths", u.token, map[string]any{
		"documents": []any{
			map[string]any{"Link": "good.pdf"},
			map[string]any{"Link": "fake.pdf"},
			map[string]any{"Link": "missing.pdf"},
			map[string]any{"Link": "http://127.0.0.1:1/x.pdf"},
			map[string]any{"Link": "http://169.254.169.254/latest/meta-data"},
			map[string]any{"Other": "no path"},
		},
		"column_mapping": map[string]any{"Link": "file_path"},
	}, 200)
	res := out["results"].([]any)
	want := []struct {
		valid bool
		code  string
	}{{true, ""}, {false, "not_pdf"}, {false, "not_found"}, {false, "forbidden_address"}, {false, "forbidden_address"}, {false, "invalid"}}
	for i, w := range want {
		r := res[i].(map[string]any)
		code, _ := r["error_code"].(string)
		if r["valid"] != w.valid || code != w.code {
			t.Errorf("row %d: %v, want valid=%v code=%s", i, r, w.valid, w.code)
		}
	}
	if out["valid"].(float64) != 1 {
		t.Errorf("valid count: %v", out["valid"])
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
