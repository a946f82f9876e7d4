package main

import "testing"

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
