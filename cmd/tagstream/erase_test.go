package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sheet"
	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/services/pipeline"
)

// The document data of the erased job: alphanumeric, so the full-text
// index keeps each as one token (scans compare lower case).
var erasedWords = []string{"Marmaladeharbour4417", "Quillfeather9931", "Obsidianlantern2208", "Vexmoor6650", "Brindlecopse5561"}

// scanDir returns, per erased word, the files under dir that hold it.
func scanDir(t *testing.T, dir string) map[string][]string {
	return testenv.FilesContaining(t, dir, erasedWords...)
}

// get returns an API answer's raw body.
func (e *env) get(path, token string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// jobAnswers is every API answer about the job's documents, as text (the
// XLSX export read back as cells).
func jobAnswers(t *testing.T, e *env, u user, job string) string {
	t.Helper()
	var all strings.Builder
	for _, p := range []string{"/status", "/results?limit=1000", "/results?format=csv", "/events?limit=1000", "/events?scope=job"} {
		st, body := e.get("/api/batch/jobs/"+job+p, u.token)
		if st != 200 {
			t.Fatalf("GET %s: %d %s", p, st, body)
		}
		all.WriteString(body)
	}
	for _, q := range []string{"?job_id=" + job, "?q=marmaladeharbour4417", "?q=vexmoor6650", "?tag=fake"} {
		st, body := e.get("/api/documents"+q, u.token)
		if st != 200 {
			t.Fatalf("GET /api/documents%s: %d %s", q, st, body)
		}
		all.WriteString(body)
	}
	st, body := e.get("/api/batch/jobs/"+job+"/results?format=xlsx", u.token)
	if st != 200 {
		t.Fatalf("xlsx: %d", st)
	}
	header, recs, err := sheet.ReadXLSX(strings.NewReader(body), sheet.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(&all, header, recs)
	return all.String()
}

// exportTo runs `tagstream events export` of the job into a new file and
// returns its path and what the command said on stderr.
func exportTo(t *testing.T, cfg config, job string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "trail.ndjson")
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"events", "export", "--job", job, "--out", out, "--data-dir", cfg.DataDir})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("export: %v %s", err, stderr.String())
	}
	return out, stderr.String()
}

// exportJob exports the job and verifies the export.
func exportJob(t *testing.T, cfg config, job string) []byte {
	t.Helper()
	out, _ := exportTo(t, cfg, job)
	var stdout, stderr bytes.Buffer
	r := newRootCmd(&stdout, &stderr)
	r.SetArgs([]string{"events", "verify", out})
	if err := r.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("verify: %v", err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// An erased job's titles, paths, descriptions, extra columns, tags and
// document errors are nowhere afterwards: not in any API answer, not in
// the search, not in any file of the data dir (JetStream store files,
// read database and its WAL), while its counts and timeline remain and
// exports taken before and after both verify, the chain over the events
// they share unchanged. Before the erasure the JetStream files already
// hold none of it in the clear (sealed), the read database does (which
// shows the scan finds what is there). A legal hold blocks the erasure
// until it is lifted; both are events. Who may do what follows the access
// policy.
func TestErasureShredsDocumentDataEverywhere(t *testing.T) {
	cfg := testConfig(t)
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		if in.Document.Row == 2 {
			return fmt.Errorf("cannot read vault/Brindlecopse5561-%d.pdf", in.Document.Row)
		}
		return nil
	}}
	e := startEnv(t, cfg, tagger)
	owner := e.register("owner@example.com")
	other := e.register("other@example.com")
	admin := e.register("admin@example.com")
	docs := make([]map[string]any, 3)
	for i := range docs {
		docs[i] = map[string]any{"title": fmt.Sprintf("Marmaladeharbour4417 %d", i), "file_path": fmt.Sprintf("archive/Quillfeather9931-%d.pdf", i),
			"description": "Obsidianlantern2208", "district": "Vexmoor6650"}
	}
	job := e.mustCall("POST", "/api/batch/start", owner.token, map[string]any{"documents": docs,
		"config": map[string]any{"model_name": "builtin/keywords"}}, 200)["job_id"].(string)
	before := e.waitStatus(owner, job, 30*time.Second, "completed", "failed")
	answers := jobAnswers(t, e, owner, job)
	for _, w := range erasedWords {
		if !strings.Contains(strings.ToLower(answers), strings.ToLower(w)) {
			t.Fatalf("before the erasure the API does not show %s: the checks below prove nothing", w)
		}
	}
	// A running job cannot be erased: hold the next job's documents.
	gate := make(chan struct{})
	tagger.setGate(gate)
	running := e.startJob(owner, 1, nil)
	e.waitStatus(owner, running, 20*time.Second, "processing")
	if st, out := e.call("POST", "/api/batch/jobs/"+running+"/erase", owner.token, map[string]any{"reason": "x"}); st != 409 {
		t.Fatalf("erase a running job: %d %v", st, out)
	}
	e.mustCall("POST", "/api/batch/jobs/"+running+"/cancel", owner.token, nil, 200)
	close(gate)
	e.shutdown()

	found := scanDir(t, cfg.DataDir)
	for _, w := range erasedWords {
		var inDB bool
		for _, f := range found[w] {
			if strings.HasPrefix(f, "jetstream") {
				t.Errorf("%s is in the JetStream file %s in the clear", w, f)
			}
			inDB = inDB || strings.HasPrefix(f, "read.db")
		}
		if !inDB {
			t.Errorf("%s is not in the read database before the erasure: the scan proves nothing (%v)", w, found[w])
		}
	}
	exportBefore := exportJob(t, cfg, job)
	// The start's digest, which an export keeps, is keyed by the job's data
	// key (services.TestStartDigestsAreKeyedByTheJob): the erasure shreds it.
	if !bytes.Contains(exportBefore, []byte(`"digest_key":"job"`)) {
		t.Errorf("the export's JobStarted has no keyed digest:\n%.600s", exportBefore)
	}

	e = startEnv(t, cfg, tagger)
	// Access: a stranger does not see the job; the owner may not hold it.
	e.mustCall("POST", "/api/batch/jobs/"+job+"/erase", other.token, map[string]any{"reason": "mine now"}, 404)
	e.mustCall("POST", "/api/batch/jobs/"+job+"/legal-hold", other.token, map[string]any{"on": true, "reason": "r"}, 404)
	e.mustCall("POST", "/api/batch/jobs/"+job+"/legal-hold", owner.token, map[string]any{"on": true, "reason": "r"}, 403)
	if st, out := e.call("POST", "/api/batch/jobs/"+job+"/erase", owner.token, map[string]any{}); st != 400 || out["field"] != "reason" {
		t.Fatalf("erase without a reason: %d %v", st, out)
	}
	if st, out := e.call("POST", "/api/batch/jobs/"+job+"/legal-hold", admin.token, map[string]any{"reason": "r"}); st != 400 || out["field"] != "on" {
		t.Fatalf("hold without on: %d %v", st, out)
	}
	governance(t, e, owner, job, `erased=false at=<nil> reason= hold=false hold_reason= can_erase=true can_hold=false`)
	governance(t, e, admin, job, `erased=false at=<nil> reason= hold=false hold_reason= can_erase=true can_hold=true`)
	// A legal hold blocks the erasure until it is lifted.
	e.mustCall("POST", "/api/batch/jobs/"+job+"/legal-hold", admin.token, map[string]any{"on": true, "reason": "litigation 17"}, 200)
	governance(t, e, owner, job, `erased=false at=<nil> reason= hold=true hold_reason=litigation 17 can_erase=true can_hold=false`)
	if list := e.mustCall("GET", "/api/batch/jobs?all=true", admin.token, nil, 200)["jobs"].([]any); !listed(list, job, "legal_hold", true) {
		t.Errorf("the job list does not show the hold: %v", list)
	}
	clientEnv(t)
	login(t, e.url, owner.email)
	if out := ok(t, "batch", "status", job).stdout; !strings.Contains(out, "Legal hold:") || !strings.Contains(out, "on (litigation 17)") ||
		strings.Contains(out, "Erased:") {
		t.Errorf("batch status of a held job:\n%s", out)
	}
	if st, out := e.call("POST", "/api/batch/jobs/"+job+"/erase", owner.token, map[string]any{"reason": "request 4411"}); st != 409 ||
		!strings.Contains(fmt.Sprint(out), "legal hold") {
		t.Fatalf("erase under hold: %d %v", st, out)
	}
	e.mustCall("POST", "/api/batch/jobs/"+job+"/legal-hold", admin.token, map[string]any{"on": false, "reason": "case closed"}, 200)
	governance(t, e, admin, job, `erased=false at=<nil> reason= hold=false hold_reason= can_erase=true can_hold=true`)
	e.mustCall("POST", "/api/batch/jobs/"+job+"/erase", owner.token, map[string]any{"reason": "request 4411"}, 200)
	governance(t, e, owner, job, `erased=true at=set reason=request 4411 hold=false hold_reason= can_erase=true can_hold=false`)
	if list := e.mustCall("GET", "/api/batch/jobs", owner.token, nil, 200)["jobs"].([]any); !listed(list, job, "erased", true) {
		t.Errorf("the job list does not show the erasure: %v", list)
	}
	if out := ok(t, "batch", "status", job).stdout; !strings.Contains(out, "Erased:") || !strings.Contains(out, "document data erased (request 4411)") ||
		strings.Contains(out, "Legal hold:") {
		t.Errorf("batch status of an erased job:\n%s", out)
	}

	answers = jobAnswers(t, e, owner, job)
	for _, w := range erasedWords {
		if strings.Contains(strings.ToLower(answers), strings.ToLower(w)) {
			t.Errorf("after the erasure the API still shows %s", w)
		}
	}
	for w, files := range scanDir(t, cfg.DataDir) {
		t.Errorf("after the erasure %s is still on disk in %v", w, files)
	}
	after := e.status(owner, job)
	for _, k := range []string{"status", "processed_count", "failed_count", "total_documents", "created_at"} {
		if fmt.Sprint(after[k]) != fmt.Sprint(before[k]) {
			t.Errorf("%s changed with the erasure: %v -> %v", k, before[k], after[k])
		}
	}
	types := map[string]int{}
	for _, ev := range e.mustCall("GET", "/api/batch/jobs/"+job+"/events?limit=1000", owner.token, nil, 200)["events"].([]any) {
		types[ev.(map[string]any)["type"].(string)]++
	}
	if types[events.TypeLegalHoldSet] != 2 || types[events.TypeJobErased] != 1 || types[events.TypeDocumentTagged] != 2 ||
		types[events.TypeDocumentFailed] != 1 {
		t.Errorf("timeline after the erasure: %v", types)
	}
	// Erased means erased: no retry, and a second erasure changes nothing.
	e.mustCall("POST", "/api/batch/jobs/"+job+"/retry", owner.token, map[string]any{}, 409)
	e.mustCall("POST", "/api/batch/jobs/"+job+"/erase", owner.token, map[string]any{"reason": "again"}, 200)
	e.shutdown()

	for w, files := range scanDir(t, cfg.DataDir) {
		t.Errorf("after shutdown %s is on disk in %v", w, files)
	}
	exportAfter := exportJob(t, cfg, job)
	// The log only grew: the export before is the start of the export
	// after, line for line, hashes included (its trailer aside).
	lines := strings.Split(strings.TrimSpace(string(exportBefore)), "\n")
	body := strings.Join(lines[:len(lines)-1], "\n") + "\n"
	if !strings.HasPrefix(string(exportAfter), body) {
		t.Fatal("the chain over the events exported before the erasure changed")
	}
	if n := strings.Count(string(exportAfter), "\n") - strings.Count(body, "\n"); n != 3+1 {
		t.Fatalf("the export after has %d more lines, want 3 events (hold set, lifted, erased) and the trailer", n)
	}
}

// governance checks the job's erasure and hold fields, and what the
// caller may do, in its status as u reads it.
func governance(t *testing.T, e *env, u user, job, want string) {
	t.Helper()
	s := e.status(u, job)
	at := fmt.Sprint(s["erased_at"])
	if _, err := time.Parse(time.RFC3339Nano, at); err == nil {
		at = "set"
	}
	got := fmt.Sprintf("erased=%v at=%s reason=%v hold=%v hold_reason=%v can_erase=%v can_hold=%v", s["erased"], at,
		s["erase_reason"], s["legal_hold"], s["legal_hold_reason"], s["can_erase"], s["can_hold"])
	if got != want {
		t.Errorf("%s's status of %s:\n got  %s\n want %s", u.email, job, got, want)
	}
}

// listed reports whether the job list holds job with key = v.
func listed(list []any, job, key string, v any) bool {
	for _, j := range list {
		if m := j.(map[string]any); m["job_id"] == job {
			return m[key] == v
		}
	}
	return false
}

// A job logged before document data was sealed holds it in the clear in
// its events: destroying a key would not erase it, so erasure refuses
// with 409 and says why.
func TestErasureRefusesJobsLoggedBeforeSealing(t *testing.T) {
	cfg := testConfig(t)
	e := startEnv(t, cfg, &fakeTagger{})
	owner := e.register("owner@example.com")
	ctx := context.Background()
	job := "legacy-job-1"
	for _, ev := range []events.Event{
		events.DocumentsSubmitted{InputID: "in-legacy", Documents: []events.Document{{Row: 0, Title: "Old", FilePath: "old.pdf", SourceType: "local"}}},
		events.JobStarted{InputID: "in-legacy", Chunks: 1, Total: 1, Config: events.JobConfig{Model: "builtin/keywords", KeySource: "none"}},
		events.JobCancelled{Reason: "old"},
	} {
		env, err := events.New(job, events.User(owner.id, owner.email), ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Version = 1 // as written before sealing: plaintext, appended past the decorator
		if _, err := e.app.rawLog.Append(ctx, env, nil); err != nil {
			t.Fatal(err)
		}
	}
	st, out := e.call("POST", "/api/batch/jobs/"+job+"/erase", owner.token, map[string]any{"reason": "request"})
	if st != 409 || !strings.Contains(fmt.Sprint(out), "before document data was encrypted") {
		t.Fatalf("erase a legacy job: %d %v", st, out)
	}
}
