package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tagstream/tagstream/events"
)

// orgJob starts a gated job (it stays processing) in organisation org.
func (e *env) orgJob(u user, org string) string {
	e.t.Helper()
	return e.startJob(u, 2, map[string]any{"org_id": org})
}

// wsCatchup reports whether a WebSocket observer of job gets its catchup
// (true) or is refused with 1008 (false).
func wsCatchup(t *testing.T, e *env, job, token string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(e, job, token), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(16 << 20)
	_, data, err := conn.Read(ctx)
	if err != nil {
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Fatalf("ws %s: %v, want a catchup or 1008", job, err)
		}
		return false
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil || m["type"] != "catchup" {
		t.Fatalf("ws %s: first message %s", job, data)
	}
	return true
}

func listIDs(body map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, j := range body["jobs"].([]any) {
		out[j.(map[string]any)["job_id"].(string)] = true
	}
	return out
}

func member(org, email string) string {
	return "/api/orgs/" + org + "/members/" + url.PathEscape(email)
}

// TestOrganisationRoles: two organisations; each role's allowed and
// refused actions over real HTTP with real tokens; another
// organisation's job is 404 on every path; the audit trail shows
// creation, invitation, role change and removal with actor and time.
func TestOrganisationRoles(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{gate: make(chan struct{})})
	alice := e.register("alice@example.com") // creates A: admin
	mo := e.register("mo@example.com")       // member of A
	op := e.register("op@example.com")       // operator of A
	aud := e.register("aud@example.com")     // auditor of A
	bob := e.register("bob@example.com")     // creates B
	carol := e.register("carol@example.com") // in no organisation
	global := e.register("auditor@example.com")

	a := e.mustCall("POST", "/api/orgs", alice.token, map[string]any{"name": "Records A"}, 201)["org_id"].(string)
	b := e.mustCall("POST", "/api/orgs", bob.token, map[string]any{"name": "Records B"}, 201)["org_id"].(string)
	e.mustCall("POST", "/api/orgs", alice.token, map[string]any{"name": " "}, 400)
	for who, role := range map[string]string{mo.email: "member", op.email: "operator", aud.email: "auditor"} {
		e.mustCall("POST", "/api/orgs/"+a+"/members", alice.token, map[string]any{"email": who, "role": role}, 201)
	}
	// An address with no account yet: it joins when it registers.
	if got := e.mustCall("POST", "/api/orgs/"+a+"/members", alice.token,
		map[string]any{"email": "Late@Example.com", "role": "member"}, 201); got["account"] != false || got["invitation"] != nil {
		t.Fatalf("invite without account (open registration): %v", got)
	}
	e.mustCall("POST", "/api/orgs/"+a+"/members", alice.token, map[string]any{"email": mo.email, "role": "admin"}, 409)
	e.mustCall("POST", "/api/orgs/"+a+"/members", alice.token, map[string]any{"email": "x@example.com", "role": "owner"}, 400)
	// Only A's admin manages A; outsiders do not see it.
	e.mustCall("POST", "/api/orgs/"+a+"/members", op.token, map[string]any{"email": "y@example.com", "role": "member"}, 403)
	e.mustCall("POST", "/api/orgs/"+a+"/members", bob.token, map[string]any{"email": "y@example.com", "role": "member"}, 404)
	e.mustCall("GET", "/api/orgs/"+a+"/members", bob.token, nil, 404)
	if ms := e.mustCall("GET", "/api/orgs/"+a+"/members", mo.token, nil, 200)["members"].([]any); len(ms) != 5 {
		t.Fatalf("members of A: %v", ms)
	}
	mine := e.mustCall("GET", "/api/orgs", aud.token, nil, 200)["orgs"].([]any)
	if len(mine) != 1 || mine[0].(map[string]any)["org_id"] != a || mine[0].(map[string]any)["role"] != "auditor" {
		t.Fatalf("auditor's organisations: %v", mine)
	}

	// Starts: member, operator and admin may; auditor 403; others 404.
	moJob := e.orgJob(mo, a)
	opJob := e.orgJob(op, a)
	bobJob := e.orgJob(bob, b)
	plain := e.startJob(carol, 1, nil) // outside organisations
	start := map[string]any{"documents": []map[string]any{{"file_path": "x.pdf"}}, "config": map[string]any{"model_name": "builtin/keywords"}, "org_id": a}
	e.mustCall("POST", "/api/batch/start", aud.token, start, 403)
	e.mustCall("POST", "/api/batch/start", bob.token, start, 404)
	e.mustCall("POST", "/api/batch/start", carol.token, start, 404)
	// Single process is a start like any other.
	for u, want := range map[user]int{aud: 403, bob: 404} {
		if st, body := e.postSingle(u.token, singleForm{name: "pdf_url", data: []byte("https://example.org/x.pdf")},
			keywordsConfig(""), singleForm{name: "org_id", data: []byte(a)}); st != want {
			t.Errorf("single process in A as %s: %d %v, want %d", u.email, st, body, want)
		}
	}
	if st := e.status(mo, moJob); st["status"] == nil {
		t.Fatalf("status: %v", st)
	}

	reads := []string{"/status", "/results", "/events"}
	canRead := func(u user, job string) bool {
		t.Helper()
		want := 0
		for _, p := range reads {
			st, _ := e.call("GET", "/api/batch/jobs/"+job+p, u.token, nil)
			if st != 200 && st != 404 {
				t.Fatalf("GET %s%s as %s: %d", job, p, u.email, st)
			}
			if want == 0 {
				want = st
			} else if st != want {
				t.Fatalf("GET %s%s as %s: %d, other reads %d", job, p, u.email, st, want)
			}
		}
		if want == 404 { // an allowed SSE observer would stream until the job ends
			if sse, _ := e.call("GET", "/api/batch/jobs/"+job+"/stream", u.token, nil); sse != 404 {
				t.Fatalf("SSE for %s on %s: %d, want 404", u.email, job, sse)
			}
		}
		ws := wsCatchup(t, e, job, u.token)
		if ws != (want == 200) {
			t.Fatalf("WebSocket for %s on %s: %v, HTTP reads %d", u.email, job, ws, want)
		}
		return want == 200
	}
	for _, c := range []struct {
		u    user
		job  string
		read bool
	}{
		{mo, moJob, true}, {mo, opJob, false}, // a member reads its own jobs only
		{op, moJob, true}, {aud, moJob, true}, {aud, opJob, true}, {alice, opJob, true},
		{bob, moJob, false}, {carol, moJob, false}, {global, moJob, false}, // other organisations, nobody, global auditor: 404
		{alice, bobJob, false}, {aud, bobJob, false},
		{global, plain, true}, {mo, plain, false}, // outside organisations: today's rules
	} {
		if got := canRead(c.u, c.job); got != c.read {
			t.Errorf("%s reads %s: %v, want %v", c.u.email, c.job, got, c.read)
		}
	}

	// The status says whether the caller may control the job, so the
	// console hides buttons the role cannot use.
	for u, want := range map[user]bool{aud: false, op: true, mo: true, alice: true} {
		if st := e.status(u, moJob); st["can_control"] != want || st["org_id"] != a {
			t.Errorf("%s: status can_control %v org_id %v, want %v %s", u.email, st["can_control"], st["org_id"], want, a)
		}
	}

	control := func(u user, job, action string, want int) {
		t.Helper()
		e.mustCall("POST", "/api/batch/jobs/"+job+"/"+action, u.token, map[string]any{"reason": "test"}, want)
	}
	control(aud, moJob, "pause", 403) // reads, controls nothing
	control(aud, moJob, "retry", 403) // the policy comes before the job's state
	control(mo, opJob, "pause", 404)  // not even visible
	control(bob, moJob, "pause", 404) // another organisation
	control(bob, moJob, "retry", 404) //
	control(global, moJob, "pause", 404)
	control(op, moJob, "pause", 200)    // operator controls the org's jobs
	control(mo, moJob, "resume", 200)   // the owner always
	control(alice, opJob, "pause", 200) // admin too
	control(alice, opJob, "resume", 200)

	// Lists scoped to an organisation show what the caller may read.
	if ids := listIDs(e.mustCall("GET", "/api/batch/jobs?org_id="+a, mo.token, nil, 200)); !ids[moJob] || ids[opJob] || ids[bobJob] {
		t.Fatalf("member's org history: %v", ids)
	}
	if ids := listIDs(e.mustCall("GET", "/api/batch/active?org_id="+a, aud.token, nil, 200)); !ids[moJob] || !ids[opJob] || ids[bobJob] || ids[plain] {
		t.Fatalf("auditor's org active list: %v", ids)
	}
	e.mustCall("GET", "/api/batch/jobs?org_id="+a, bob.token, nil, 404)
	if ids := listIDs(e.mustCall("GET", "/api/batch/jobs?all=true", global.token, nil, 200)); ids[moJob] || ids[bobJob] || !ids[plain] {
		t.Fatalf("global auditor's all-jobs list reaches into organisations: %v", ids)
	}

	// Role change applies at once (same token); removal too.
	e.mustCall("PATCH", member(a, mo.email), alice.token, map[string]any{"role": "operator"}, 200)
	if !canRead(mo, opJob) {
		t.Fatal("promoted member still cannot read the organisation's jobs")
	}
	e.mustCall("DELETE", member(a, op.email), alice.token, nil, 200)
	if canRead(op, moJob) || !canRead(op, opJob) {
		t.Fatal("a removed operator must keep only its own jobs")
	}
	control(op, moJob, "cancel", 404)
	e.mustCall("PATCH", member(a, alice.email), alice.token, map[string]any{"role": "member"}, 409) // last admin
	e.mustCall("DELETE", member(a, alice.email), alice.token, nil, 409)
	e.mustCall("PATCH", member(a, "nobody@example.com"), alice.token, map[string]any{"role": "member"}, 404)

	// The invited address joins when it registers.
	late := e.register("late@example.com")
	if mine := e.mustCall("GET", "/api/orgs", late.token, nil, 200)["orgs"].([]any); len(mine) != 1 || mine[0].(map[string]any)["role"] != "member" {
		t.Fatalf("late member's organisations: %v", mine)
	}

	// The audit trail: auditors and admins read it, members may not,
	// others do not see it.
	e.mustCall("GET", "/api/orgs/"+a+"/events", mo.token, nil, 403) // operator now
	e.mustCall("GET", "/api/orgs/"+a+"/events", bob.token, nil, 404)
	trail := e.mustCall("GET", "/api/orgs/"+a+"/events", aud.token, nil, 200)["events"].([]any)
	var types []string
	for _, ev := range trail {
		m := ev.(map[string]any)
		actor := m["actor"].(map[string]any)
		if actor["email"] != alice.email || actor["id"] != alice.id || m["time"] == "" {
			t.Errorf("event without its actor or time: %v", m)
		}
		types = append(types, m["type"].(string))
	}
	want := []string{"OrgCreated", "OrgMemberAdded", "OrgMemberAdded", "OrgMemberAdded", "OrgMemberAdded", "OrgMemberRoleChanged", "OrgMemberRemoved"}
	if len(types) != len(want) {
		t.Fatalf("trail %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("trail %v, want %v", types, want)
		}
	}
	last := trail[len(trail)-2].(map[string]any)["data"].(map[string]any)
	if last["email"] != mo.email || last["from"] != "member" || last["to"] != "operator" {
		t.Fatalf("role change event: %v", last)
	}
	// The job records its organisation.
	for _, env := range e.history(moJob) {
		if env.Type == "JobStarted" {
			var s struct {
				OrgID string `json:"org_id"`
			}
			_ = json.Unmarshal(env.Data, &s)
			if s.OrgID != a {
				t.Fatalf("JobStarted org_id %q, want %q", s.OrgID, a)
			}
		}
	}
	_ = http.StatusOK
}

// TestOrganisationInviteRegistration: under TAGSTREAM_REGISTRATION=invite,
// adding an address without an account hands the admin an invitation,
// which registers the address straight into the organisation.
func TestOrganisationInviteRegistration(t *testing.T) {
	cfg := testConfig(t)
	cfg.Registration = "invite"
	cfg.AdminEmails, cfg.AuditorEmails = "", ""
	inv := bootstrapInvitation(t, cfg.DataDir, "boss@example.com", "admin")
	e := startEnv(t, cfg, &fakeTagger{})
	e.registerWith("boss@example.com", inv, 201)
	boss := e.loginAs("boss@example.com")
	org := e.mustCall("POST", "/api/orgs", boss.token, map[string]any{"name": "Audit office"}, 201)["org_id"].(string)
	defer func() {
		// The whole-log export carries the organisation's events and verifies.
		e.shutdown()
		out := filepath.Join(t.TempDir(), "trail.ndjson")
		var stdout, stderr bytes.Buffer
		root := newRootCmd(&stdout, &stderr)
		root.SetArgs([]string{"events", "export", "--out", out, "--data-dir", cfg.DataDir})
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("export: %v %s", err, stderr.String())
		}
		raw, _ := os.ReadFile(out)
		if !strings.Contains(string(raw), `"subject":"orgs.`+org+`"`) || !strings.Contains(string(raw), "OrgMemberAdded") {
			t.Errorf("the export lacks the organisation's events")
		}
		r := newRootCmd(&stdout, &stderr)
		r.SetArgs([]string{"events", "verify", out})
		if err := r.ExecuteContext(context.Background()); err != nil {
			t.Errorf("verify an export with organisation events: %v", err)
		}
	}()
	got := e.mustCall("POST", "/api/orgs/"+org+"/members", boss.token, map[string]any{"email": "new@example.com", "role": "auditor"}, 201)
	i, _ := got["invitation"].(map[string]any)
	tok, _ := i["invitation"].(string)
	if got["account"] != false || tok == "" {
		t.Fatalf("no invitation for an address without account: %v", got)
	}
	e.mustCall("POST", "/api/auth/register", "", map[string]any{"email": "walk-in@example.com", "password": "correct-horse-1"}, 403)
	if u := e.registerWith("new@example.com", tok, 201); u["role"] != "user" {
		t.Fatalf("an organisation invitation must not grant a global role: %v", u)
	}
	newbie := e.loginAs("new@example.com")
	mine := e.mustCall("GET", "/api/orgs", newbie.token, nil, 200)["orgs"].([]any)
	if len(mine) != 1 || mine[0].(map[string]any)["role"] != "auditor" {
		t.Fatalf("invited auditor's organisations: %v", mine)
	}
	// Removing an address before it registered withdraws the invitation
	// adding it made (it still registered the invitee before).
	got = e.mustCall("POST", "/api/orgs/"+org+"/members", boss.token, map[string]any{"email": "gone@example.com", "role": "member"}, 201)
	gone, _ := got["invitation"].(map[string]any)["invitation"].(string)
	e.mustCall("DELETE", "/api/orgs/"+org+"/members/gone@example.com", boss.token, nil, 200)
	e.registerWith("gone@example.com", gone, 403)
}

// Deleting an account removes its memberships (the organisation's events
// say why), so whoever registers its address next joins nothing, and the
// member list names no account that is gone; an organisation's last
// admin cannot be deleted.
func TestDeletingAnAccountRemovesItsMemberships(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	admin := e.register("admin@example.com")
	erin := e.register("erin@example.com")
	frank := e.register("frank@example.com")
	o := e.mustCall("POST", "/api/orgs", erin.token, map[string]any{"name": "B"}, http.StatusCreated)["org_id"].(string)
	e.mustCall("POST", "/api/orgs/"+o+"/members", erin.token, map[string]any{"email": frank.email, "role": "operator"}, http.StatusCreated)
	// Added by address before it had an account.
	e.mustCall("POST", "/api/orgs/"+o+"/members", erin.token, map[string]any{"email": "gina@example.com", "role": "member"}, http.StatusCreated)
	gina := e.register("gina@example.com")
	if got := myOrgRoles(e, gina.token); got[o] != "member" {
		t.Fatalf("gina's organisations: %v", got)
	}
	// Not the organisation's last admin: nobody could administer it again.
	e.mustCall("DELETE", "/api/admin/users/"+erin.id, admin.token, nil, http.StatusConflict)
	for _, u := range []user{frank, gina} {
		e.mustCall("DELETE", "/api/admin/users/"+u.id, admin.token, nil, http.StatusOK)
	}
	for _, email := range []string{frank.email, gina.email} {
		again := e.register(email)
		if got := myOrgRoles(e, again.token); len(got) != 0 {
			t.Fatalf("a new account with a deleted member's address %s is in %v", email, got)
		}
	}
	members := e.mustCall("GET", "/api/orgs/"+o+"/members", erin.token, nil, http.StatusOK)
	raw, _ := json.Marshal(members)
	if strings.Contains(string(raw), frank.email) || strings.Contains(string(raw), gina.email) || !strings.Contains(string(raw), erin.email) {
		t.Fatalf("members after the deletions: %s", raw)
	}
	evs := e.mustCall("GET", "/api/orgs/"+o+"/events", erin.token, nil, http.StatusOK)
	if raw, _ := json.Marshal(evs); strings.Count(string(raw), events.ReasonAccountDeleted) != 2 {
		t.Fatalf("organisation events: %s", raw)
	}
}

// A restart whose log ends with an organisation's event is ready at once:
// the read models follow jobs' events only, and readiness waited for that
// event until the next job event (503 for ever on a quiet server, which a
// load balancer then kept out of rotation).
func TestReadyAfterARestartWithAnOrganisationEventLast(t *testing.T) {
	cfg := testConfig(t)
	e := startEnv(t, cfg, &fakeTagger{})
	u := e.register("boss@example.com")
	e.startJob(u, 1, nil)
	e.mustCall("POST", "/api/orgs", u.token, map[string]any{"name": "Legal"}, http.StatusCreated)
	e.shutdown()
	e = startEnv(t, cfg, &fakeTagger{})
	if st, body := e.call("GET", "/api/ready", "", nil); st != http.StatusOK {
		t.Fatalf("ready after the restart: %d %v", st, body)
	}
}
