package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// checkOrgInvitation (part of TestWebConsoleOrgPage): under
// TAGSTREAM_REGISTRATION=invite an admin adds an address without an
// account in the console and is shown its invitation: a registration
// link, the code and its expiry. The link, opened in another browser,
// has the register form filled in; registering lands the invitee on the
// organisation with the role the admin chose. The token appears in no
// organisation event, no member listing, the server's log, or the
// invitee's stored session, and the admin's page drops it once left.
func checkOrgInvitation(t *testing.T) {
	cfg := testConfig(t)
	cfg.Registration = "invite"
	cfg.AdminEmails, cfg.AuditorEmails = "", ""
	boot := bootstrapInvitation(t, cfg.DataDir, "boss@example.com", "admin")
	e, logs := startEnvLog(t, cfg, &fakeTagger{})
	e.registerWith("boss@example.com", boot, 201)
	boss := e.loginAs("boss@example.com")
	org := e.mustCall("POST", "/api/orgs", boss.token, map[string]any{"name": "Audit office"}, 201)["org_id"].(string)

	p := openOrgsAs(t, e, boss.email, "#/orgs/"+org)
	p.waitFor("admin's page", `document.querySelector("#org-role").textContent === "admin" && !document.querySelector("#member-add").hidden`, pageErrors, 10*time.Second)
	p.do("add new@", 10*time.Second, chromedp.SendKeys(chromedp.CSS("#member-email"), "new@example.com"))
	p.choose("#member-role", "auditor")
	p.do("submit", 5*time.Second, chromedp.Click(chromedp.CSS("#member-add button[type=submit]")))
	item := `document.querySelector('.invite-item[data-email="new@example.com"]')`
	p.waitFor("invitation shown", item+` && !document.querySelector("#member-invite").hidden && document.querySelector('tr[data-member="new@example.com"]')`, pageErrors, 10*time.Second)
	link := eval[string](p, item+`.querySelector(".invite-link").value`)
	tok := eval[string](p, item+`.querySelector(".invite-token").value`)
	if !strings.HasPrefix(tok, "inv_") || !strings.HasPrefix(link, e.url+"/#/register?invitation="+tok) {
		t.Fatalf("shown link %q, code %q; want a register link carrying the inv_ code", link, tok)
	}
	if text := eval[string](p, item+`.textContent`); !strings.Contains(text, "new@example.com is added as auditor and becomes a member once they register") ||
		!regexp.MustCompile(`Valid until \d`).MatchString(text) {
		t.Errorf("invitation reads %q; want who, the role, when they join and the expiry", text)
	}
	if ro := eval[bool](p, item+`.querySelector(".invite-link").readOnly`); !ro {
		t.Error("the link field is editable; want a read-only field to copy from")
	}
	p.keepShot("invitation")

	// Leaving the page drops the invitation from the document.
	eval[string](p, `location.hash = "#/orgs"`)
	p.waitFor("list", `!document.querySelector("#view-orgs").hidden && document.querySelector('#orgs-table tr[data-org]')`, pageErrors, 10*time.Second)
	eval[string](p, `location.hash = "#/orgs/`+org+`"`)
	p.waitFor("page again", `document.querySelector("#org-role").textContent === "admin" && document.querySelector('tr[data-member="new@example.com"]')`, pageErrors, 10*time.Second)
	if eval[bool](p, `!document.querySelector("#member-invite").hidden || document.body.innerHTML.includes(`+jsString(tok)+`)`) {
		t.Error("the invitation is still in the page after leaving it")
	}

	q := newPage(t, 1280, 900)
	q.do("open the link", 20*time.Second, chromedp.Navigate(link))
	q.waitFor("register form filled", `document.body.dataset.ready === "1" && !document.querySelector("#register-form").closest(".view").hidden && document.querySelector("#reg-email").value === "new@example.com" && document.querySelector("#reg-invitation").value === `+jsString(tok), `location.hash`, 10*time.Second)
	q.keepShot("register")
	entries := eval[int](q, `history.length`)
	q.do("register", 10*time.Second, chromedp.SendKeys(chromedp.CSS("#reg-password"), "correct-horse-1"),
		chromedp.Click(chromedp.CSS("#register-form button[type=submit]")))
	q.waitFor("on the organisation", `location.hash === "#/orgs/`+org+`" && document.querySelector("#org-role").textContent === "auditor" && document.querySelector('tr[data-member="boss@example.com"]')`, pageErrors+` + " " + location.hash`, 10*time.Second)
	if eval[bool](q, `location.href.includes("inv_") || JSON.stringify(localStorage).includes("inv_")`) {
		t.Error("the invitation stays in the address or the stored session after registering")
	}
	if n := eval[int](q, `history.length`); n != entries {
		t.Errorf("history has %d entries after registering, %d before: the link must be replaced, not stay behind Back", n, entries)
	}
	if bad := q.problems(); len(bad) > 0 {
		t.Errorf("page errors: %q", bad)
	}

	newbie := e.loginAs("new@example.com")
	mine := e.mustCall("GET", "/api/orgs", newbie.token, nil, 200)["orgs"].([]any)
	if len(mine) != 1 || mine[0].(map[string]any)["org_id"] != org || mine[0].(map[string]any)["role"] != "auditor" {
		t.Fatalf("the invitee's organisations: %v", mine)
	}
	if roles := memberRoles(e, org, boss.token); roles["new@example.com"] != "auditor" {
		t.Errorf("members %v; want new@example.com as auditor", roles)
	}
	// The token is the invitee's alone: no event, listing or log line has it.
	for what, body := range map[string]map[string]any{
		"events":             e.mustCall("GET", "/api/orgs/"+org+"/events", boss.token, nil, 200),
		"members (invitee)":  e.mustCall("GET", "/api/orgs/"+org+"/members", newbie.token, nil, 200),
		"members (admin)":    e.mustCall("GET", "/api/orgs/"+org+"/members", boss.token, nil, 200),
		"organisations list": e.mustCall("GET", "/api/orgs", newbie.token, nil, 200),
	} {
		if raw, _ := json.Marshal(body); strings.Contains(string(raw), tok) {
			t.Errorf("%s carries the invitation: %s", what, raw)
		}
	}
	if strings.Contains(logs.String(), tok) {
		t.Error("the server's log carries the invitation")
	}
}
