package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHappyPathKeywordsJobCompletes(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("alice@example.com")
	job := e.startJob(u, 5, nil)
	if !strings.HasPrefix(job, "batch-") {
		t.Errorf("server job id %q does not look like batch-<unix>-<random>", job)
	}
	st := e.waitStatus(u, job, 20*time.Second, "completed")
	if st["processed_count"].(float64) != 5 || st["failed_count"].(float64) != 0 || st["progress"].(float64) != 1 {
		t.Fatalf("completed status: %v", st)
	}
	for _, k := range []string{"created_at", "started_at", "updated_at", "finished_at"} {
		if st[k] == nil {
			t.Errorf("status lacks %s: %v", k, st)
		}
	}
	res := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, http.StatusOK)
	rows := res["results"].([]any)
	if len(rows) != 5 {
		t.Fatalf("results has %d rows", len(rows))
	}
	r0 := rows[0].(map[string]any)
	if r0["status"] != "success" || r0["title"] != "Doc 0" || len(r0["tags"].([]any)) == 0 {
		t.Errorf("row 0: %v", r0)
	}
}

func TestSeedAPIErrorCodes(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxDocuments = 50
	tagger := &fakeTagger{gate: make(chan struct{})}
	e := startEnv(t, cfg, tagger)
	u := e.register("alice@example.com")
	job := e.startJob(u, 2, nil)

	good := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{"documents": []any{map[string]any{"file_path": "a.pdf"}}, "config": map[string]any{"model_name": "builtin/keywords"}}
		mut(m)
		return m
	}
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		detail                    string // must appear in the detail
	}{
		{"no token", "GET", "/api/batch/active", "", nil, 401, "missing bearer token"},
		{"garbage token", "GET", "/api/batch/active", "not-a-jwt", nil, 401, "invalid"},
		{"malformed json", "POST", "/api/batch/start", u.token, `{"documents": [`, 400, "malformed JSON"},
		{"empty body", "POST", "/api/batch/start", u.token, ``, 400, "empty"},
		{"array body", "POST", "/api/batch/start", u.token, `[]`, 400, "JSON object"},
		{"unknown field", "POST", "/api/batch/start", u.token, good(func(m map[string]any) { m["documentz"] = 1 }), 400, "documentz"},
		{"no documents", "POST", "/api/batch/start", u.token, good(func(m map[string]any) { m["documents"] = []any{} }), 400, "documents"},
		{"document not object", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			m["documents"] = []any{map[string]any{"file_path": "a.pdf"}, "x"}
		}), 400, "documents[1]"},
		{"missing file_path in row 1", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			m["documents"] = []any{map[string]any{"file_path": "a.pdf"}, map[string]any{"title": "no path"}}
		}), 400, "documents[1].file_path"},
		{"bad source type", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			m["documents"] = []any{map[string]any{"file_path": "a.pdf", "file_source_type": "ftp"}}
		}), 400, "documents[0].file_source_type"},
		{"path traversal", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			m["documents"] = []any{map[string]any{"file_path": "../../etc/passwd"}}
		}), 400, "documents[0].file_path"},
		{"num_pages 0", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			m["config"] = map[string]any{"model_name": "builtin/keywords", "num_pages": 0}
		}), 400, "config.num_pages"},
		{"num_tags 100", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			m["config"] = map[string]any{"model_name": "builtin/keywords", "num_tags": 100}
		}), 400, "config.num_tags"},
		{"num_tags string", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			m["config"] = map[string]any{"model_name": "builtin/keywords", "num_tags": "eight"}
		}), 400, "config.num_tags"},
		{"llm model without any key", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			m["config"] = map[string]any{"model_name": "openai/gpt-4o-mini"}
		}), 400, "config.api_key"},
		{"bad column mapping", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			m["column_mapping"] = map[string]any{"URL": "filepath"}
		}), 400, "column_mapping"},
		{"bad job id", "POST", "/api/batch/start", u.token, good(func(m map[string]any) { m["job_id"] = "../etc" }), 400, "job_id"},
		{"too many documents", "POST", "/api/batch/start", u.token, good(func(m map[string]any) {
			docs := make([]any, 51)
			for i := range docs {
				docs[i] = map[string]any{"file_path": "a.pdf"}
			}
			m["documents"] = docs
		}), 413, "limit of 50"},
		{"body over 32 MiB", "POST", "/api/batch/start", u.token, `{"documents":[{"file_path":"` + strings.Repeat("a", 33<<20) + `"}]}`, 413, "exceeds"},
		{"unknown job status", "GET", "/api/batch/jobs/batch-0-nope/status", u.token, nil, 404, "not found"},
		{"unknown job pause", "POST", "/api/batch/jobs/batch-0-nope/pause", u.token, nil, 404, "not found"},
		{"traversal job id", "GET", "/api/batch/jobs/..%2F..%2Fetc/status", u.token, nil, 404, ""},
		{"resume a running job", "POST", "/api/batch/jobs/" + job + "/resume", u.token, nil, 409, "cannot resume"},
		{"reason too long", "POST", "/api/batch/jobs/" + job + "/pause", u.token, map[string]any{"reason": strings.Repeat("x", 501)}, 400, "reason"},
		{"register short password", "POST", "/api/auth/register", "", map[string]any{"email": "b@example.com", "password": "short"}, 400, "password"},
		{"register duplicate", "POST", "/api/auth/register", "", map[string]any{"email": "alice@example.com", "password": "whatever-123"}, 409, "already"},
		{"login wrong password", "POST", "/api/auth/login", "", map[string]any{"email": "alice@example.com", "password": "wrong-password"}, 401, "invalid email or password"},
		{"unknown route", "GET", "/api/nope", u.token, nil, 404, "no route"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body := e.call(c.method, c.path, c.token, c.body)
			if st != c.status {
				t.Fatalf("status %d, want %d: %v", st, c.status, body)
			}
			detail, _ := body["detail"].(string)
			if detail == "" || body["code"] == nil {
				t.Fatalf("error body lacks detail/code: %v", body)
			}
			if !strings.Contains(detail, c.detail) {
				t.Errorf("detail %q does not mention %q", detail, c.detail)
			}
		})
	}
	// Terminal jobs refuse every transition with 409.
	e.mustCall("POST", "/api/batch/jobs/"+job+"/cancel", u.token, map[string]any{"reason": "test"}, 200)
	for _, action := range []string{"pause", "resume", "cancel"} {
		st, body := e.call("POST", "/api/batch/jobs/"+job+"/"+action, u.token, nil)
		if st != http.StatusConflict || !strings.Contains(body["detail"].(string), "cancelled") {
			t.Errorf("%s of a cancelled job: %d %v", action, st, body)
		}
	}
	close(tagger.gate)
}
