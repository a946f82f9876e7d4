package main

// The API the console's job list and job page stand on (issue 13 items
// 2-4): a job's name, owner and settings in its status, search, "failed
// only" and sorting in the history, all users' jobs for auditors, the
// job-level audit view and a WebSocket catchup without rows.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tagstream/tagstream/services/pipeline"
)

func TestJobNamesSearchFilterSortAndScopes(t *testing.T) {
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		if strings.HasPrefix(in.Document.Title, "Broken") {
			return errors.New("unreadable scan")
		}
		return nil
	}}
	e := startEnv(t, testConfig(t), tagger)
	u := e.register("names@example.com")
	other := e.register("other@example.com")
	auditor := e.register("auditor@example.com")

	named := e.startJob(u, 2, map[string]any{"name": "  Quarterly reports 2024  ",
		"config": map[string]any{"model_name": "builtin/keywords", "exclusion_words": []string{"draft", "copy"}, "ocr": "off", "tag_language": "original"}})
	broken := e.startJob(u, 1, map[string]any{"name": "Scans", "documents": []map[string]any{{"file_path": "x.pdf", "title": "Broken 0"}}})
	plain := e.startJob(u, 1, nil)
	theirs := e.startJob(other, 1, map[string]any{"name": "Quarterly of someone else"})
	for _, j := range []string{named, broken, plain} {
		e.waitStatus(u, j, 30*time.Second, "completed", "failed")
	}
	e.waitStatus(other, theirs, 30*time.Second, "completed")

	st := e.status(u, named)
	cfg, _ := st["config"].(map[string]any)
	if st["name"] != "Quarterly reports 2024" || st["owner_email"] != u.email || st["owner_id"] != u.id || cfg == nil ||
		cfg["ocr"] != "off" || cfg["tag_language"] != "original" || cfg["cache"] != true || cfg["num_pages"] != float64(3) ||
		len(cfg["exclusion_words"].([]any)) != 2 {
		t.Fatalf("status of a named job lacks its name, owner or settings: %v", st)
	}
	if _, leak := cfg["api_key"]; leak {
		t.Fatalf("status config carries an api_key field: %v", cfg)
	}
	if e.status(u, plain)["name"] != "" {
		t.Fatalf("a job started without a name has one: %v", e.status(u, plain)["name"])
	}

	// The name is in the log (JobStarted's config), not only in a read model.
	found := false
	for _, ev := range e.history(named) {
		if ev.Type == "JobStarted" && strings.Contains(string(ev.Data), `"name":"Quarterly reports 2024"`) {
			found = true
		}
	}
	if !found {
		t.Fatal("JobStarted does not carry the job's name")
	}

	st2, out := e.call("POST", "/api/batch/start", u.token, map[string]any{"documents": []map[string]any{{"file_path": "a.pdf"}},
		"name": strings.Repeat("n", 201)})
	if st2 != http.StatusBadRequest || out["field"] != "name" {
		t.Fatalf("a 201-character name: %d %v, want 400 on field name", st2, out)
	}

	ids := func(token, query string) []string {
		t.Helper()
		out := e.mustCall("GET", "/api/batch/jobs?"+query, token, nil, http.StatusOK)
		var got []string
		for _, j := range out["jobs"].([]any) {
			got = append(got, j.(map[string]any)["job_id"].(string))
		}
		return got
	}
	if got := ids(u.token, "q="+url.QueryEscape("QUARTERLY")); len(got) != 1 || got[0] != named {
		t.Fatalf("search by name: %v, want only %s (not another user's job)", got, named)
	}
	if got := ids(u.token, "q="+plain[:len(plain)-2]); len(got) != 1 || got[0] != plain {
		t.Fatalf("search by id: %v, want %s", got, plain)
	}
	if got := ids(u.token, "failed=true"); len(got) != 1 || got[0] != broken {
		t.Fatalf("failed only: %v, want %s", got, broken)
	}
	bySt := ids(u.token, "sort=status")
	if len(bySt) != 3 || bySt[0] != broken {
		t.Fatalf("sort by status: %v, want the failed job %s before the completed ones", bySt, broken)
	}
	// The cursor pages in the chosen order.
	if p1, p2 := ids(u.token, "sort=-created&limit=2"), e.mustCall("GET", "/api/batch/jobs?sort=-created&limit=2", u.token, nil, 200)["next_cursor"]; len(p1) != 2 || p1[0] != named || p2 == nil {
		t.Fatalf("oldest first: %v next %v", p1, p2)
	} else if rest := ids(u.token, "sort=-created&limit=2&cursor="+p2.(string)); len(rest) != 1 || rest[0] != plain {
		t.Fatalf("oldest first, page 2: %v, want [%s]", rest, plain)
	}
	// sort=status pages one job at a time give the whole sorted list,
	// each job once, and the last page says there is no next one.
	var paged []string
	for cur, n := "", 0; ; n++ {
		out := e.mustCall("GET", "/api/batch/jobs?sort=status&limit=1"+cur, u.token, nil, http.StatusOK)
		for _, j := range out["jobs"].([]any) {
			paged = append(paged, j.(map[string]any)["job_id"].(string))
		}
		next, _ := out["next_cursor"].(string)
		if next == "" || n > len(bySt) {
			break
		}
		cur = "&cursor=" + next
	}
	if strings.Join(paged, ",") != strings.Join(bySt, ",") {
		t.Fatalf("sort=status paged by 1: %v, want %v", paged, bySt)
	}
	// A sort=status cursor as servers before the rank was in it wrote
	// them ("nanos:id") still continues after its job.
	created, err := time.Parse(time.RFC3339Nano, e.status(u, bySt[0])["created_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	old := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created.UnixNano(), 10) + ":" + bySt[0]))
	if rest := ids(u.token, "sort=status&cursor="+old); strings.Join(rest, ",") != strings.Join(bySt[1:], ",") {
		t.Fatalf("sort=status after an old-format cursor: %v, want %v", rest, bySt[1:])
	}
	// ...but not with another user's job, whose status it would reveal.
	tc, _ := time.Parse(time.RFC3339Nano, e.status(other, theirs)["created_at"].(string))
	probe := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(tc.UnixNano(), 10) + ":" + theirs))
	if st, out := e.call("GET", "/api/batch/jobs?sort=status&cursor="+probe, u.token, nil); st != http.StatusBadRequest || out["field"] != "cursor" {
		t.Fatalf("sort=status with another user's job as cursor: %d %v, want 400 on cursor", st, out)
	}
	for _, bad := range []string{"sort=size", "failed=maybe", "all=1"} {
		if st, out := e.call("GET", "/api/batch/jobs?"+bad, u.token, nil); st != http.StatusBadRequest {
			t.Fatalf("%s: %d %v, want 400", bad, st, out)
		}
	}
	// A yes/no that is neither is refused, naming it, on every read (it
	// used to mean "no": all=1 read one's own jobs only).
	for _, bad := range []string{"/api/batch/active?all=1", "/api/analytics/summary?mine=yes", "/api/analytics/summary?all=1"} {
		if st, out := e.call("GET", bad, u.token, nil); st != http.StatusBadRequest || out["field"] == "" {
			t.Fatalf("%s: %d %v, want 400 naming the parameter", bad, st, out)
		}
	}
	if got := ids(auditor.token, "all=true&q=quarterly"); len(got) != 2 {
		t.Fatalf("auditor, all users, search: %v, want both quarterly jobs", got)
	}
	if got := ids(u.token, "all=true"); len(got) != 3 {
		t.Fatalf("a user asking for all jobs sees %v, want only their 3", got)
	}

	// The job-level audit view: only the job's own transitions.
	evs := e.mustCall("GET", "/api/batch/jobs/"+named+"/events?scope=job", u.token, nil, http.StatusOK)["events"].([]any)
	if len(evs) != 2 {
		t.Fatalf("scope=job: %d events, want JobStarted and JobCompleted: %v", len(evs), evs)
	}
	for _, ev := range evs {
		if typ := ev.(map[string]any)["type"].(string); !strings.HasPrefix(typ, "Job") {
			t.Fatalf("scope=job returned %s", typ)
		}
	}
	if st, _ := e.call("GET", "/api/batch/jobs/"+named+"/events?scope=docs", u.token, nil); st != http.StatusBadRequest {
		t.Fatalf("scope=docs: %d, want 400", st)
	}

	// A catchup without rows, for a console that pages them itself.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(e, named, u.token)+"&results=none", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	_, data, err := conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if _, has := m["results"]; has || m["type"] != "catchup" || m["results_omitted"] != true || m["state"].(map[string]any)["name"] != "Quarterly reports 2024" {
		t.Fatalf("catchup with results=none: %s", data)
	}
}
