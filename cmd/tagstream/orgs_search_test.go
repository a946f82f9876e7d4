package main

import (
	"net/url"
	"testing"
	"time"
)

// searchJobs is the set of job ids among GET /api/documents hits, or nil
// when the request was refused with want != 200.
func searchJobs(e *env, u user, query string, want int) map[string]bool {
	e.t.Helper()
	body := e.mustCall("GET", "/api/documents?"+query, u.token, nil, want)
	if want != 200 {
		return nil
	}
	out := map[string]bool{}
	for _, d := range body["documents"].([]any) {
		out[d.(map[string]any)["job_id"].(string)] = true
	}
	return out
}

// Search follows the same access policy as every job path: org_id= finds
// an organisation's documents by the caller's role there (a member only
// its own), another organisation's is 404, and a global auditor's
// all=true does not reach into organisations.
func TestOrganisationDocumentsSearch(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{gate: make(chan struct{})})
	alice := e.register("alice@example.com")
	mo := e.register("mo@example.com")
	op := e.register("op@example.com")
	bob := e.register("bob@example.com")
	carol := e.register("carol@example.com")
	global := e.register("auditor@example.com")
	a := e.mustCall("POST", "/api/orgs", alice.token, map[string]any{"name": "Records A"}, 201)["org_id"].(string)
	for who, role := range map[string]string{mo.email: "member", op.email: "operator"} {
		e.mustCall("POST", "/api/orgs/"+a+"/members", alice.token, map[string]any{"email": who, "role": role}, 201)
	}
	moJob, opJob := e.orgJob(mo, a), e.orgJob(op, a)
	plain := e.startJob(carol, 1, nil)

	if got := searchJobs(e, op, "q=doc&org_id="+a, 200); !got[moJob] || !got[opJob] || got[plain] {
		t.Fatalf("operator's search of A: %v (want %s and %s)", got, moJob, opJob)
	}
	if got := searchJobs(e, mo, "q=doc&org_id="+a, 200); !got[moJob] || got[opJob] {
		t.Fatalf("member's search of A: %v (want only %s)", got, moJob)
	}
	searchJobs(e, bob, "q=doc&org_id="+a, 404)
	if got := searchJobs(e, global, "q=doc&all=true", 200); got[moJob] || got[opJob] || !got[plain] {
		t.Fatalf("global auditor's all=true search: %v (want %s only)", got, plain)
	}
	if got := searchJobs(e, bob, "q=doc&all=true", 200); len(got) != 0 {
		t.Fatalf("a user without a global role saw %v", got)
	}
}

// titledJob starts a job of one document titled title (the fake model
// tags it "tag <title>" and "fake"), in organisation org when set.
func titledJob(e *env, u user, org, title string) string {
	e.t.Helper()
	req := map[string]any{"documents": []map[string]any{{"file_path": "a.pdf", "title": title}},
		"config": map[string]any{"model_name": "builtin/keywords"}}
	if org != "" {
		req["org_id"] = org
	}
	return e.mustCall("POST", "/api/batch/start", u.token, req, 200)["job_id"].(string)
}

// scopeCounts is what a caller's history statistics and analytics summary
// count: jobs (recent job ids), documents, and the top tags.
type scopeCounts struct {
	statsJobs, statsDocs, analyticsJobs, analyticsDocs int
	recent, tags                                       map[string]bool
}

func readScopeCounts(e *env, u user, statsQuery, analyticsQuery string) scopeCounts {
	e.t.Helper()
	st := e.mustCall("GET", "/api/history/stats?"+statsQuery, u.token, nil, 200)
	sum := e.mustCall("GET", "/api/analytics/summary?"+analyticsQuery, u.token, nil, 200)
	c := scopeCounts{statsJobs: int(st["total_jobs"].(float64)), statsDocs: int(st["total_documents"].(float64)),
		analyticsDocs: int(sum["documents"].(float64)), recent: map[string]bool{}, tags: map[string]bool{}}
	for _, j := range st["recent_jobs"].([]any) {
		c.recent[j.(map[string]any)["job_id"].(string)] = true
	}
	for _, n := range sum["jobs_by_status"].(map[string]any) {
		c.analyticsJobs += int(n.(float64))
	}
	for _, tc := range sum["top_tags"].([]any) {
		c.tags[tc.(map[string]any)["value"].(string)] = true
	}
	return c
}

// History statistics and the analytics summary follow the same scope as
// search, in SQL: a global auditor's or admin's all=true counts only jobs
// outside organisations (no organisation's counts or tags), an
// organisation's auditor gets all its jobs with org_id=, a member only its
// own, and anyone outside the organisation a 404 naming org_id.
func TestOrganisationStatsAndAnalytics(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	alice := e.register("alice@example.com")
	mo := e.register("mo@example.com")
	op := e.register("op@example.com")
	aud := e.register("aud@example.com")
	bob := e.register("bob@example.com")
	carol := e.register("carol@example.com")
	global := e.register("auditor@example.com")
	admin := e.register("admin@example.com")
	a := e.mustCall("POST", "/api/orgs", alice.token, map[string]any{"name": "Records A"}, 201)["org_id"].(string)
	for who, role := range map[string]string{mo.email: "member", op.email: "operator", aud.email: "auditor"} {
		e.mustCall("POST", "/api/orgs/"+a+"/members", alice.token, map[string]any{"email": who, "role": role}, 201)
	}
	moJob := titledJob(e, mo, a, "Merger memo")
	opJob := titledJob(e, op, a, "Board minutes")
	plain := titledJob(e, carol, "", "Public notice")
	for u, job := range map[user]string{mo: moJob, op: opJob, carol: plain} {
		e.waitStatus(u, job, 30*time.Second, "completed")
	}
	moTag, opTag, plainTag := "tag Merger memo", "tag Board minutes", "tag Public notice"

	for _, u := range []user{global, admin} {
		for _, aq := range []string{"", "all=true"} {
			c := readScopeCounts(e, u, "all=true", aq)
			if c.statsJobs != 1 || c.statsDocs != 1 || !c.recent[plain] || len(c.recent) != 1 {
				t.Errorf("%s all=true stats count %+v, want only %s", u.email, c, plain)
			}
			if c.analyticsDocs != 1 || c.analyticsJobs != 1 || c.tags[moTag] || c.tags[opTag] || !c.tags[plainTag] {
				t.Errorf("%s analytics (%q) count %+v, want only %s", u.email, aq, c, plain)
			}
		}
	}
	c := readScopeCounts(e, aud, "org_id="+a, "org_id="+a)
	if c.statsJobs != 2 || c.statsDocs != 2 || !c.recent[moJob] || !c.recent[opJob] ||
		c.analyticsDocs != 2 || c.analyticsJobs != 2 || !c.tags[moTag] || !c.tags[opTag] || c.tags[plainTag] {
		t.Errorf("organisation auditor's org_id= counts %+v, want %s and %s", c, moJob, opJob)
	}
	if c := readScopeCounts(e, aud, "", "mine=true"); c.statsJobs != 0 || c.analyticsDocs != 0 || len(c.tags) != 0 {
		t.Errorf("the organisation auditor owns no job, its own counts are %+v", c)
	}
	c = readScopeCounts(e, mo, "org_id="+a, "org_id="+a)
	if c.statsJobs != 1 || !c.recent[moJob] || c.analyticsDocs != 1 || c.analyticsJobs != 1 || !c.tags[moTag] || c.tags[opTag] {
		t.Errorf("member's org_id= counts %+v, want only its own %s", c, moJob)
	}
	// Outside the organisation, global roles included, org_id= is 404.
	for _, u := range []user{bob, global, admin} {
		for _, path := range []string{"/api/history/stats", "/api/analytics/summary", "/api/documents"} {
			st, out := e.call("GET", path+"?org_id="+a, u.token, nil)
			if st != 404 || out["field"] != "org_id" {
				t.Errorf("%s %s?org_id= of an organisation it is not in: %d %v, want 404 on org_id", u.email, path, st, out)
			}
		}
	}
	// The scope is in SQL: a page of one holds one document, and the pages
	// walk both of the organisation's.
	seen := map[string]bool{}
	for q, pages := "org_id="+a+"&limit=1", 0; ; pages++ {
		if pages > 2 {
			t.Fatal("paging does not end")
		}
		body := e.mustCall("GET", "/api/documents?"+q, aud.token, nil, 200)
		docs := body["documents"].([]any)
		if len(docs) != 1 {
			t.Fatalf("a page of one holds %d documents", len(docs))
		}
		seen[docs[0].(map[string]any)["job_id"].(string)] = true
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		q = "org_id=" + a + "&limit=1&cursor=" + url.QueryEscape(next)
	}
	if !seen[moJob] || !seen[opJob] || len(seen) != 2 {
		t.Errorf("the organisation auditor's pages hold %v", seen)
	}
}
