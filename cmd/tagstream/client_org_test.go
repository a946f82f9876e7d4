package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The client's --org flags against the real server: a member starts a
// job in an organisation (--org on start) and one of its own; the
// organisation's auditor finds the organisation's job, and only it, with
// batch list --org (history and --active), documents search --org and
// documents stats --org; an address outside the organisation gets a
// one-line "not found" from each.
func TestClientOrgFlags(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	clientEnv(t)
	admin := e.register("admin@example.com")
	mo := e.register("mo@example.com")
	aud := e.register("aud@example.com")
	e.register("out@example.com")
	org := e.mustCall("POST", "/api/orgs", admin.token, map[string]any{"name": "Records"}, 201)["org_id"].(string)
	e.mustCall("POST", "/api/orgs/"+org+"/members", admin.token, map[string]any{"email": mo.email, "role": "member"}, 201)
	e.mustCall("POST", "/api/orgs/"+org+"/members", admin.token, map[string]any{"email": aud.email, "role": "auditor"}, 201)

	login(t, e.url, mo.email)
	csv := clientFile(t, "org.csv", "file_path,title\ndocs/a.pdf,Org circular\n")
	r := ok(t, "batch", "start", "--csv", csv, "--model", "builtin/keywords", "--org", org, "--wait")
	orgJob := jobIDFrom(t, r.stderr)
	own := jobIDFrom(t, ok(t, "batch", "start", "--csv", clientFile(t, "own.csv", "file_path,title\ndocs/b.pdf,Own circular\n"),
		"--model", "builtin/keywords").stdout)
	e.waitStatus(mo, own, 30*time.Second, "completed")
	if st := e.status(mo, orgJob); st["org_id"] != org {
		t.Fatalf("--org did not put the job in the organisation: %v", st)
	}

	login(t, e.url, aud.email)
	jobsIn := func(out string) map[string]bool {
		t.Helper()
		var l struct {
			Jobs []struct {
				JobID string `json:"job_id"`
			} `json:"jobs"`
		}
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		got := map[string]bool{}
		for _, j := range l.Jobs {
			got[j.JobID] = true
		}
		return got
	}
	if got := jobsIn(ok(t, "batch", "list", "--org", org, "--json").stdout); !got[orgJob] || got[own] || len(got) != 1 {
		t.Fatalf("batch list --org: %v, want only %s", got, orgJob)
	}
	if got := jobsIn(ok(t, "batch", "list", "--json").stdout); len(got) != 0 {
		t.Fatalf("batch list without --org shows the auditor's own jobs only: %v", got)
	}
	if got := jobsIn(ok(t, "batch", "list", "--active", "--org", org, "--json").stdout); len(got) != 0 {
		t.Fatalf("batch list --active --org after the job ended: %v", got)
	}
	if out := ok(t, "batch", "list", "--org", org).stdout; !strings.Contains(out, orgJob) {
		t.Fatalf("human list: %s", out)
	}
	search := ok(t, "documents", "search", "--org", org, "--q", "circular", "--json").stdout
	if !strings.Contains(search, "Org circular") || strings.Contains(search, "Own circular") {
		t.Fatalf("documents search --org: %s", search)
	}
	if out := ok(t, "documents", "search", "--q", "circular", "--json").stdout; strings.Contains(out, orgJob) {
		t.Fatalf("search without --org reached into the organisation: %s", out)
	}
	var stats struct {
		TotalJobs int `json:"total_jobs"`
	}
	if err := json.Unmarshal([]byte(ok(t, "documents", "stats", "--org", org, "--json").stdout), &stats); err != nil || stats.TotalJobs != 1 {
		t.Fatalf("documents stats --org: %+v %v", stats, err)
	}

	login(t, e.url, "out@example.com")
	for _, args := range [][]string{
		{"batch", "list", "--org", org},
		{"batch", "list", "--active", "--org", org},
		{"documents", "search", "--org", org, "--q", "circular"},
		{"documents", "stats", "--org", org},
		{"batch", "start", "--csv", csv, "--model", "builtin/keywords", "--org", org},
	} {
		failsWithOneLine(t, cli(t, "", args...), "organisation "+org+" not found")
	}
}
