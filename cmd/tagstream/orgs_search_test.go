package main

import (
	"context"
	"maps"
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
// search, in SQL: a global auditor's or admin's all=true counts no job of
// an organisation it is not in (no organisation's counts or tags), an
// organisation's auditor gets all its jobs with org_id= or all=true, a
// member only its own, and anyone outside the organisation a 404 naming
// org_id.
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
	// all=true (and analytics by default) is every job the caller may
	// read, as on the job lists: for the organisation's auditor, A's.
	for _, aq := range []string{"", "all=true"} {
		c := readScopeCounts(e, aud, "all=true", aq)
		if c.statsJobs != 2 || !c.recent[moJob] || !c.recent[opJob] || c.analyticsDocs != 2 || c.analyticsJobs != 2 || c.tags[plainTag] {
			t.Errorf("organisation auditor's all=true counts (analytics %q) %+v, want %s and %s", aq, c, moJob, opJob)
		}
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

// jobSet is the set of job ids under key of every item of body[list].
func jobSet(body map[string]any, list, key string) map[string]bool {
	out := map[string]bool{}
	for _, it := range body[list].([]any) {
		out[it.(map[string]any)[key].(string)] = true
	}
	return out
}

// checkAllReads checks what all=true shows u on every read: the jobs of
// /api/batch/jobs, of /api/documents (with and without words, one page and
// page by page), of /api/history/stats, and the count of
// /api/analytics/summary; want is the one set they must all be.
func checkAllReads(e *env, u user, want map[string]bool) {
	e.t.Helper()
	same := func(what string, got map[string]bool) {
		e.t.Helper()
		if !maps.Equal(got, want) {
			e.t.Errorf("%s: all=true on %s shows %v, want %v", u.email, what, got, want)
		}
	}
	same("/api/batch/jobs", jobSet(e.mustCall("GET", "/api/batch/jobs?all=true&limit=100", u.token, nil, 200), "jobs", "job_id"))
	same("/api/documents", searchJobs(e, u, "all=true&limit=500", 200))
	same("/api/documents?q=report", searchJobs(e, u, "all=true&q=report&limit=500", 200))
	st := e.mustCall("GET", "/api/history/stats?all=true", u.token, nil, 200)
	same("/api/history/stats", jobSet(st, "recent_jobs", "job_id"))
	sum := e.mustCall("GET", "/api/analytics/summary?all=true", u.token, nil, 200)
	jobs := 0
	for _, n := range sum["jobs_by_status"].(map[string]any) {
		jobs += int(n.(float64))
	}
	// One document a job.
	if st["total_jobs"] != float64(len(want)) || jobs != len(want) || sum["documents"] != float64(len(want)) {
		e.t.Errorf("%s: all=true counts %v jobs in stats, %d jobs and %v documents in analytics, want %d",
			u.email, st["total_jobs"], jobs, sum["documents"], len(want))
	}
	for _, words := range []string{"", "&q=report"} {
		seen := map[string]bool{}
		for q, pages := "all=true&limit=1"+words, 0; ; pages++ {
			if pages > len(want) {
				e.t.Fatalf("%s: paging all=true%s does not end", u.email, words)
			}
			body := e.mustCall("GET", "/api/documents?"+q, u.token, nil, 200)
			docs := body["documents"].([]any)
			if len(docs) != 1 {
				e.t.Fatalf("%s: a page of one holds %d documents", u.email, len(docs))
			}
			job := docs[0].(map[string]any)["job_id"].(string)
			if seen[job] {
				e.t.Errorf("%s: all=true%s pages show %s twice", u.email, words, job)
			}
			seen[job] = true
			next, _ := body["next_cursor"].(string)
			if next == "" {
				break
			}
			q = "all=true&limit=1" + words + "&cursor=" + url.QueryEscape(next)
		}
		same("/api/documents page by page"+words, seen)
	}
}

// all=true means one thing on every read, on either read store: the jobs
// the caller may read. A global auditor who is a member of A and the admin
// of B sees its own jobs, all of B's and every job outside organisations,
// but not another member's in A; a member without a global role sees its
// own only.
func TestAllMeansTheSameOnEveryRead(t *testing.T) {
	eachReadStore(t, func(t *testing.T, _ string, cfg config) {
		e := startEnv(t, cfg, &fakeTagger{})
		alice, mo, bob, carol := e.register("alice@example.com"), e.register("mo@example.com"), e.register("bob@example.com"),
			e.register("carol@example.com")
		global := e.register("auditor@example.com")
		a := e.newOrg(alice, "Records A", map[string]string{mo.email: "member", global.email: "member"})
		b := e.newOrg(global, "Records B", map[string]string{bob.email: "member"})
		jobs := map[string]user{}
		job := func(u user, org, title string) string {
			id := titledJob(e, u, org, title+" report")
			jobs[id] = u
			return id
		}
		job(alice, a, "Alice A") // in A, where neither reads every job
		moA, globalA := job(mo, a, "Mo A"), job(global, a, "Auditor A")
		bobB, plain, moPlain := job(bob, b, "Bob B"), job(carol, "", "Carol plain"), job(mo, "", "Mo plain")
		for id, u := range jobs {
			e.waitStatus(u, id, 30*time.Second, "completed")
		}
		if err := e.app.fresh.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkAllReads(e, global, map[string]bool{globalA: true, bobB: true, plain: true, moPlain: true})
		checkAllReads(e, mo, map[string]bool{moA: true, moPlain: true})
		// The console shows the analytics scope it was given.
		want := "own jobs, organisations " + b + " and all users outside organisations"
		if got := e.mustCall("GET", "/api/analytics/summary", global.token, nil, 200)["scope"]; got != want {
			t.Errorf("global auditor's analytics scope %q, want %q", got, want)
		}
		if got := e.mustCall("GET", "/api/analytics/summary?all=true", mo.token, nil, 200)["scope"]; got != "own jobs" {
			t.Errorf("member's analytics scope %q, want own jobs", got)
		}
	})
}

// newOrg is a new organisation of admin with members by email and role.
func (e *env) newOrg(admin user, name string, members map[string]string) string {
	e.t.Helper()
	id := e.mustCall("POST", "/api/orgs", admin.token, map[string]any{"name": name}, 201)["org_id"].(string)
	for email, role := range members {
		e.mustCall("POST", "/api/orgs/"+id+"/members", admin.token, map[string]any{"email": email, "role": role}, 201)
	}
	return id
}
