package main

import (
	"net/http"
	"testing"

	"github.com/tagstream/tagstream/internal/oidc/oidctest"
)

// myOrgRoles is GET /api/orgs as org id -> the caller's role.
func myOrgRoles(e *env, token string) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, o := range e.mustCall("GET", "/api/orgs", token, nil, http.StatusOK)["orgs"].([]any) {
		m := o.(map[string]any)
		out[m["org_id"].(string)] = m["role"].(string)
	}
	return out
}

// lastOrgEvent is the newest event of an organisation's audit trail.
func lastOrgEvent(e *env, org, token string) map[string]any {
	e.t.Helper()
	evs := e.mustCall("GET", "/api/orgs/"+org+"/events", token, nil, http.StatusOK)["events"].([]any)
	return evs[len(evs)-1].(map[string]any)
}

// A user signing in through the real provider lands in the organisations
// its claim names (by a configured mapping to a name, or by id), with the
// role the role mapping gives; the memberships are events by the system
// with reason "sso"; when the claim changes, the next token moves them;
// a membership an admin made is left as the admin made it.
func TestSSOClaimsMapToOrganisations(t *testing.T) {
	op := oidctest.Start(t)
	cfg := ssoConfig(t, op)
	cfg.OIDCOrgClaim, cfg.OIDCOrgs = oidctest.OrgsClaim, "finance-team=Finance Records"
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, cfg, &fakeTagger{})
	boss := e.register("boss@example.com")
	finance := e.mustCall("POST", "/api/orgs", boss.token, map[string]any{"name": "Finance Records"}, 201)["org_id"].(string)
	legal := e.mustCall("POST", "/api/orgs", boss.token, map[string]any{"name": "Legal"}, 201)["org_id"].(string)
	manual := e.mustCall("POST", "/api/orgs", boss.token, map[string]any{"name": "Manual"}, 201)["org_id"].(string)
	e.mustCall("POST", "/api/orgs/"+manual+"/members", boss.token, map[string]any{"email": oidctest.StaffEmail, "role": "operator"}, 201)

	// Staff (account role user) in finance by the mapping, legal by id,
	// and manual, which an admin already granted.
	op.SetOrgs(oidctest.StaffSubject, "finance-team", legal, manual, "no-such-org")
	staff := providerToken(t, op, "tagstream", oidctest.StaffLogin)
	want := map[string]string{finance: "member", legal: "member", manual: "operator"}
	if got := myOrgRoles(e, staff); len(got) != 3 || got[finance] != want[finance] || got[legal] != want[legal] || got[manual] != want[manual] {
		t.Fatalf("staff's organisations %v, want %v", got, want)
	}
	ev := lastOrgEvent(e, finance, boss.token)
	if ev["type"] != "OrgMemberAdded" || ev["actor"].(map[string]any)["kind"] != "system" || ev["data"].(map[string]any)["reason"] != "sso" {
		t.Fatalf("finance's trail ends with %v", ev)
	}
	if ev := lastOrgEvent(e, manual, boss.token); ev["type"] != "OrgMemberAdded" || ev["actor"].(map[string]any)["kind"] != "user" {
		t.Fatalf("the admin's membership was touched: %v", ev)
	}
	// The membership works: the staff member starts a job in finance.
	job := e.startJob(user{token: staff}, 1, map[string]any{"org_id": finance})
	e.mustCall("GET", "/api/batch/jobs/"+job+"/status", boss.token, nil, http.StatusOK)

	// The admin group's user becomes an admin of what its claim names.
	op.SetOrgs(oidctest.AdminSubject, legal)
	admin := providerToken(t, op, "tagstream", oidctest.AdminLogin)
	if got := myOrgRoles(e, admin); len(got) != 1 || got[legal] != "admin" {
		t.Fatalf("provider admin's organisations %v", got)
	}

	// The claim changes: finance is gone, and manual too (but that one
	// the admin granted, so it stays).
	op.SetOrgs(oidctest.StaffSubject, legal)
	staff = providerToken(t, op, "tagstream", oidctest.StaffLogin)
	if got := myOrgRoles(e, staff); len(got) != 2 || got[legal] != "member" || got[manual] != "operator" {
		t.Fatalf("after the claim changed: %v", got)
	}
	ev = lastOrgEvent(e, finance, boss.token)
	if ev["type"] != "OrgMemberRemoved" || ev["actor"].(map[string]any)["kind"] != "system" || ev["data"].(map[string]any)["reason"] != "sso" {
		t.Fatalf("finance's trail ends with %v", ev)
	}
	e.mustCall("GET", "/api/batch/jobs/"+job+"/status", staff, nil, http.StatusOK) // its own job, still
	e.mustCall("GET", "/api/batch/jobs?org_id="+finance, staff, nil, http.StatusNotFound)
}

// A password account registered with a single sign-on user's address gets
// none of that user's organisations, and the sign-on user none of the
// password account's: memberships belong to accounts (the README's "never
// by email alone"). Both used to get both, an organisation admin's role
// included.
func TestAccountsSharingAnAddressShareNoOrganisations(t *testing.T) {
	e, op, _, legal := legalOrgWithSSO(t)
	op.SetOrgs(oidctest.StaffSubject, legal)
	staff := providerToken(t, op, "tagstream", oidctest.StaffLogin)
	if got := myOrgRoles(e, staff); got[legal] == "" {
		t.Fatalf("the sign-on user is not in Legal: %v", got)
	}
	legalJob := e.startJob(user{token: staff}, 1, map[string]any{"org_id": legal})

	twin := e.register(oidctest.StaffEmail)
	if got := myOrgRoles(e, twin.token); len(got) != 0 {
		t.Fatalf("a password account with the sign-on user's address is in %v", got)
	}
	e.mustCall("GET", "/api/batch/jobs?org_id="+legal, twin.token, nil, http.StatusNotFound)
	e.mustCall("GET", "/api/batch/jobs/"+legalJob+"/status", twin.token, nil, http.StatusNotFound)

	mine := e.mustCall("POST", "/api/orgs", twin.token, map[string]any{"name": "PwOrg"}, http.StatusCreated)["org_id"].(string)
	pwJob := e.startJob(twin, 1, map[string]any{"org_id": mine})
	if got := myOrgRoles(e, staff); got[mine] != "" {
		t.Fatalf("the sign-on user is in the password account's organisation: %v", got)
	}
	e.mustCall("GET", "/api/batch/jobs/"+pwJob+"/status", staff, nil, http.StatusNotFound)
	e.mustCall("POST", "/api/orgs/"+mine+"/members", staff, map[string]any{"email": "eve@example.com", "role": "admin"}, http.StatusNotFound)
}

// An address the provider says it has not confirmed is not the account's:
// organisations named by the claims are not joined by it, and nothing
// added for that address reaches the account.
func TestAnUnverifiedProviderAddressJoinsNoOrganisation(t *testing.T) {
	e, op, boss, legal := legalOrgWithSSO(t)
	e.mustCall("POST", "/api/orgs/"+legal+"/members", boss.token, map[string]any{"email": oidctest.StaffEmail, "role": "admin"}, http.StatusCreated)
	op.SetOrgs(oidctest.StaffSubject, legal)
	op.SetEmailUnverified(oidctest.StaffSubject)
	staff := providerToken(t, op, "tagstream", oidctest.StaffLogin)
	if got := myOrgRoles(e, staff); len(got) != 0 {
		t.Fatalf("a sign-on user with an unconfirmed address is in %v", got)
	}
	if me := e.mustCall("GET", "/api/auth/me", staff, nil, http.StatusOK); me["email"] == oidctest.StaffEmail {
		t.Fatalf("the unconfirmed address was kept: %v", me)
	}
}

// legalOrgWithSSO is a server whose provider's claims name organisations,
// and an organisation Legal created by the password account boss.
func legalOrgWithSSO(t *testing.T) (*env, *oidctest.Provider, user, string) {
	op := oidctest.Start(t)
	cfg := ssoConfig(t, op)
	cfg.OIDCOrgClaim = oidctest.OrgsClaim
	e := startEnv(t, cfg, &fakeTagger{})
	boss := e.register("boss@example.com")
	legal := e.mustCall("POST", "/api/orgs", boss.token, map[string]any{"name": "Legal"}, http.StatusCreated)["org_id"].(string)
	return e, op, boss, legal
}
