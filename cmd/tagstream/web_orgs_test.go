package main

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebConsoleOrgRoles: in the console, an organisation's auditor sees
// a member's running job without controls, its operator with them, and a
// member can pick the organisation on the start form.
func TestWebConsoleOrgRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	e := startEnv(t, testConfig(t), &fakeTagger{gate: gate})
	alice := e.register("alice@example.com")
	mo, _, aud := e.register("mo@example.com"), e.register("op@example.com"), e.register("aud@example.com")
	org := e.mustCall("POST", "/api/orgs", alice.token, map[string]any{"name": "Records A"}, 201)["org_id"].(string)
	for email, role := range map[string]string{"mo@example.com": "member", "op@example.com": "operator", "aud@example.com": "auditor"} {
		e.mustCall("POST", "/api/orgs/"+org+"/members", alice.token, map[string]any{"email": email, "role": role}, 201)
	}
	job := e.startJob(mo, 2, map[string]any{"org_id": org, "name": "Org contracts"})
	e.waitStatus(aud, job, 10*time.Second, "processing")

	const controls = `[...document.querySelectorAll("[data-action]")].filter(b => b.offsetParent !== null && !b.disabled).map(b => b.dataset.action).join(",")`
	openJob := func(t *testing.T, email string) *page {
		return openJobAs(t, e, email, job, `document.querySelector("#job-status").className.includes("s-processing") && document.querySelector("[data-meta=owner]")`)
	}
	t.Run("auditor", func(t *testing.T) {
		p := openJob(t, "aud@example.com")
		if got := eval[string](p, controls); got != "" {
			t.Errorf("org auditor sees enabled controls %q; want none", got)
		}
	})
	t.Run("operator", func(t *testing.T) {
		p := openJob(t, "op@example.com")
		if got := eval[string](p, controls); got != "pause,cancel" {
			t.Errorf("org operator's controls = %q; want pause,cancel", got)
		}
	})
	t.Run("member picks the organisation", func(t *testing.T) {
		p := newPage(t, 1280, 900)
		p.do("open", 20*time.Second, chromedp.Navigate(consoleURL(t, e)+"/#/new"))
		p.waitFor("sign-in", `document.body.dataset.ready === "1"`, `location.hash`, 10*time.Second)
		logIn(p, "mo@example.com")
		p.waitFor("organisation picker", `!document.querySelector("#org-pick").hidden && document.querySelector("#org-id option[value='`+org+`']")`,
			`document.querySelector("#org-pick").outerHTML`, 10*time.Second)
		if bad := p.problems(); len(bad) > 0 {
			t.Errorf("page errors: %q", bad)
		}
	})
}
