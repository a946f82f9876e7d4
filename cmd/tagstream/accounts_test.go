package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// bootstrapInvitation runs `tagstream admin bootstrap` next to a stopped
// server's data and returns the one-time invitation it prints.
func bootstrapInvitation(t tb, dataDir, email, role string) string {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd(&out, &errb)
	root.SetArgs([]string{"admin", "bootstrap", "--data-dir", dataDir, "--email", email, "--role", role})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("admin bootstrap: %v (%s)", err, errb.String())
	}
	tok := regexp.MustCompile(`inv_[A-Za-z0-9_-]+`).FindString(out.String())
	if tok == "" {
		t.Fatalf("no invitation in %q", out.String())
	}
	return tok
}

func (e *env) registerWith(email, invitation string, want int) map[string]any {
	e.t.Helper()
	return e.mustCall("POST", "/api/auth/register", "", map[string]any{"email": email, "password": "correct-horse-1", "invitation": invitation}, want)
}

func (e *env) loginAs(email string) user {
	e.t.Helper()
	body := e.mustCall("POST", "/api/auth/login", "", map[string]any{"email": email, "password": "correct-horse-1"}, http.StatusOK)
	return user{id: body["user"].(map[string]any)["id"].(string), email: email, token: body["tokens"].(map[string]any)["access_token"].(string)}
}

// TestRegistrationInviteMode: in invite mode nobody registers without an
// invitation; the first admin comes from the operator's bootstrap; an
// admin invites an auditor and changes roles; TAGSTREAM_ADMIN_EMAILS
// grants nothing by itself.
func TestRegistrationInviteMode(t *testing.T) {
	cfg := testConfig(t)
	cfg.Registration = "invite"
	cfg.AdminEmails, cfg.AuditorEmails = "", ""
	inv := bootstrapInvitation(t, cfg.DataDir, "Boss@Example.com", "admin")
	e := startEnv(t, cfg, &fakeTagger{})

	_, body := e.call("POST", "/api/auth/register", "", map[string]any{"email": "walk-in@example.com", "password": "correct-horse-1"})
	if body["code"] != "invitation_required" {
		t.Fatalf("register without invitation: %v", body)
	}
	st, body := e.call("POST", "/api/auth/register", "", map[string]any{"email": "other@example.com", "password": "correct-horse-1", "invitation": inv})
	if st != http.StatusForbidden || body["code"] != "invitation_invalid" {
		t.Fatalf("invitation for another email: %d %v", st, body)
	}
	if u := e.registerWith("boss@example.com", inv, 201); u["role"] != "admin" {
		t.Fatalf("bootstrap admin: %v", u)
	}
	boss := e.loginAs("boss@example.com")

	body = e.mustCall("POST", "/api/auth/invitations", boss.token, map[string]any{"email": "eve@example.com", "role": "auditor"}, 201)
	eveInv, _ := body["invitation"].(string)
	if !strings.HasPrefix(eveInv, "inv_") {
		t.Fatalf("invitation: %v", body)
	}
	if u := e.registerWith("eve@example.com", eveInv, 201); u["role"] != "auditor" {
		t.Fatalf("invited auditor: %v", u)
	}
	eve := e.loginAs("eve@example.com")
	// Non-admins can neither invite nor change roles.
	e.mustCall("POST", "/api/auth/invitations", eve.token, map[string]any{"email": "x@example.com", "role": "admin"}, 403)
	e.mustCall("POST", "/api/admin/users/"+eve.id+"/role", eve.token, map[string]any{"role": "admin"}, 403)
	// An admin demotes eve: her old token stops at once.
	if u := e.mustCall("POST", "/api/admin/users/"+eve.id+"/role", boss.token, map[string]any{"role": "user"}, 200); u["role"] != "user" {
		t.Fatalf("set role: %v", u)
	}
	e.mustCall("GET", "/api/auth/me", eve.token, nil, 401)
	e.mustCall("POST", "/api/admin/users/"+eve.id+"/role", boss.token, map[string]any{"role": "root"}, 400)
}

func TestRegistrationClosed(t *testing.T) {
	cfg := testConfig(t)
	cfg.Registration = "closed"
	e := startEnv(t, cfg, &fakeTagger{})
	st, body := e.call("POST", "/api/auth/register", "", map[string]any{"email": "a@example.com", "password": "correct-horse-1"})
	if st != http.StatusForbidden || body["code"] != "registration_closed" {
		t.Fatalf("closed: %d %v", st, body)
	}
}

// TestTokensRevokedOverHTTP: logout and account deletion stop the access
// token on the very next request; throttled logins get 429 + Retry-After
// while another user still logs in.
func TestTokensRevokedOverHTTP(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	admin := e.register("admin@example.com")
	a := e.register("ann@example.com")
	body := e.mustCall("POST", "/api/auth/login", "", map[string]any{"email": "ann@example.com", "password": "correct-horse-1"}, 200)
	tokens := body["tokens"].(map[string]any)
	e.mustCall("GET", "/api/auth/me", tokens["access_token"].(string), nil, 200)
	e.mustCall("POST", "/api/auth/logout", "", map[string]any{"refresh_token": tokens["refresh_token"]}, 200)
	e.mustCall("GET", "/api/auth/me", tokens["access_token"].(string), nil, 401)
	e.mustCall("GET", "/api/auth/me", a.token, nil, 200) // another session

	e.mustCall("DELETE", "/api/admin/users/"+a.id, admin.token, nil, 200)
	e.mustCall("GET", "/api/auth/me", a.token, nil, 401)
	e.mustCall("GET", "/api/batch/jobs", a.token, nil, 401)

	e.register("bob@example.com")
	var last *http.Response
	for range 12 {
		req, _ := http.NewRequest("POST", e.url+"/api/auth/login", strings.NewReader(`{"email":"bob@example.com","password":"wrong-guess-1"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("after repeated wrong passwords: %d Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
	e.mustCall("POST", "/api/auth/login", "", map[string]any{"email": "bob@example.com", "password": "correct-horse-1"}, 429)
	e.loginAs("admin@example.com") // others still log in from the same address
}

// TestClientJobIDScopedToOwner: a client-chosen job id belongs to its
// owner. Another user sending the same id gets a job of their own (200,
// not a 409 that would confirm the id exists elsewhere), cannot see the
// first, and the owner's identical retry still returns the same job.
func TestClientJobIDScopedToOwner(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	a, b := e.register("alice@example.com"), e.register("bob@example.com")
	start := func(u user, path string, want int) map[string]any {
		return e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"job_id": "nightly",
			"documents": []any{map[string]any{"file_path": path}},
			"config":    map[string]any{"model_name": "builtin/keywords"}}, want)
	}
	ja := start(a, "a.pdf", 200)["job_id"].(string)
	jb := start(b, "b.pdf", 200)["job_id"].(string)
	if ja == jb || !strings.HasPrefix(ja, "nightly-") || !strings.HasPrefix(jb, "nightly-") {
		t.Fatalf("job ids %q and %q", ja, jb)
	}
	again := start(a, "a.pdf", 200)
	if again["job_id"] != ja {
		t.Fatalf("identical retry: %v, want %s", again, ja)
	}
	start(a, "other.pdf", 409) // the owner's own id, reused for another request
	e.mustCall("GET", "/api/batch/jobs/"+ja+"/status", b.token, nil, 404)
	e.mustCall("GET", "/api/batch/jobs/nightly/status", b.token, nil, 404)
	if st := e.mustCall("GET", "/api/batch/jobs/"+jb+"/status", b.token, nil, 200); st["total_documents"].(float64) != 1 {
		t.Fatalf("bob's job: %v", st)
	}
}
