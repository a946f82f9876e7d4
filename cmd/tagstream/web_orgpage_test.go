package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tagstream/tagstream/internal/webhook"
)

// pageErrors is what a page shows as errors: the visible inline error
// boxes and the alert, for a waitFor's diagnosis.
const pageErrors = `[...document.querySelectorAll(".inline-error")].filter(b => !b.hidden).map(b => b.textContent).join(" | ") + " / " + document.querySelector("#alert-text").textContent`

// openOrgsAs opens #/orgs in a new browser and signs in as email.
func openOrgsAs(t *testing.T, e *env, email, hash string) *page {
	t.Helper()
	p := newPage(t, 1280, 900)
	p.do("open", 20*time.Second, chromedp.Navigate(consoleURL(t, e)+"/"+hash))
	p.waitFor("sign-in", `document.body.dataset.ready === "1"`, `location.hash`, 10*time.Second)
	logIn(p, email)
	return p
}

// TestWebConsoleOrgPage: an organisation's admin creates it in the
// console, adds an auditor, makes them an operator, and sets retention
// and a default callback (a refused value shows the server's error
// naming the field); the API then holds what the page set. A member sees
// the organisation and its members without any admin control or the
// settings, and may leave; an auditor sees the settings read-only and the
// audit trail, in words, with the role and settings changes. Removing a
// member asks first: Cancel keeps them, Confirm removes them. Under
// TAGSTREAM_REGISTRATION=invite the admin is shown the invitation of an
// address without an account, whose link registers the invitee into the
// organisation (see checkOrgInvitation).
func TestWebConsoleOrgPage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	// First, on a server of its own (invite mode), so it runs alone too.
	t.Run("invitation", checkOrgInvitation)
	cfg := testConfig(t)
	cfg.WebhookSecret, cfg.AllowPrivate = webhook.NewSecret(), true
	e := startEnv(t, cfg, &fakeTagger{})
	boss := e.register("boss@example.com")
	e.register("op@example.com")
	e.register("mo@example.com")
	e.register("aud@example.com")
	e.register("gone@example.com")
	const hook = "http://127.0.0.1:9/hook"
	var org string

	admin := t.Run("admin", func(t *testing.T) {
		p := openOrgsAs(t, e, boss.email, "#/orgs")
		p.waitFor("organisations page", `!document.querySelector("#view-orgs").hidden && document.querySelector("#orgs-table tbody")`, `location.hash`, 10*time.Second)
		if got := p.text("#orgs-table"); !strings.Contains(got, "no organisation") {
			t.Errorf("empty list shows %q", got)
		}
		p.do("create", 10*time.Second, chromedp.SendKeys(chromedp.CSS("#org-name"), "Records <b>B</b>"),
			chromedp.Click(chromedp.CSS("#org-create button[type=submit]")))
		p.waitFor("the new organisation's page", `!document.querySelector("#view-org").hidden && document.querySelector("#org-role").textContent === "admin" && document.querySelector("#members-table tbody tr")`,
			`location.hash + " " + `+pageErrors, 10*time.Second)
		org = strings.TrimPrefix(eval[string](p, `decodeURIComponent(location.hash)`), "#/orgs/")
		if got := p.text("#org-title"); got != "Records <b>B</b>" {
			t.Errorf("title shows %q; want the name as typed, as text", got)
		}

		p.do("add auditor", 10*time.Second, chromedp.SendKeys(chromedp.CSS("#member-email"), "op@example.com"))
		p.choose("#member-role", "auditor")
		p.do("submit", 5*time.Second, chromedp.Click(chromedp.CSS("#member-add button[type=submit]")))
		row := `document.querySelector('tr[data-member="op@example.com"]')`
		p.waitFor("auditor listed", row+` && `+row+`.querySelector(".member-role").textContent === "auditor"`, pageErrors, 10*time.Second)
		for email, role := range map[string]string{"mo@example.com": "member", "aud@example.com": "auditor", "gone@example.com": "member"} {
			e.mustCall("POST", "/api/orgs/"+org+"/members", boss.token, map[string]any{"email": email, "role": role}, 201)
		}

		p.choose(`tr[data-member="op@example.com"] select`, "operator")
		p.do("change role", 5*time.Second, chromedp.Click(chromedp.CSS(`tr[data-member="op@example.com"] [data-do=role]`)))
		p.waitFor("operator", row+`.querySelector(".member-role").textContent === "operator" && document.querySelector("#members-table").textContent.includes("mo@example.com")`, pageErrors, 10*time.Second)

		// Remove asks first; Cancel sends nothing, Confirm removes.
		gone := `document.querySelector('tr[data-member="gone@example.com"]')`
		p.waitFor("gone@ listed", gone, pageErrors, 10*time.Second)
		p.do("remove", 5*time.Second, chromedp.Click(chromedp.CSS(`tr[data-member="gone@example.com"] [data-do=remove]`)))
		p.waitFor("confirmation asked", gone+`.textContent.includes("Remove gone@example.com?") && document.activeElement.dataset.do === "cancel-remove"`, pageErrors, 5*time.Second)
		p.keepShot("remove-confirm")
		p.do("cancel", 5*time.Second, chromedp.Click(chromedp.CSS(`tr[data-member="gone@example.com"] [data-do=cancel-remove]`)))
		p.waitFor("back to Remove", gone+` && `+gone+`.querySelector("[data-do=remove]") && !`+gone+`.querySelector("[data-do=confirm-remove]")`, pageErrors, 5*time.Second)
		// A later action of the same page is the barrier: had Cancel sent
		// the DELETE, it would be done by the time this role change is,
		// and the change would be refused.
		p.choose(`tr[data-member="gone@example.com"] select`, "operator")
		p.do("change gone@'s role", 5*time.Second, chromedp.Click(chromedp.CSS(`tr[data-member="gone@example.com"] [data-do=role]`)))
		p.waitFor("role changed", `document.querySelector("#alert-text").textContent === "gone@example.com is now operator." && `+gone+` && `+gone+`.querySelector(".member-role").textContent === "operator"`, pageErrors, 10*time.Second)
		if roles := memberRoles(e, org, boss.token); roles["gone@example.com"] != "operator" {
			t.Fatalf("after Cancel the members are %v; want gone@example.com kept", roles)
		}
		p.do("remove again", 5*time.Second, chromedp.Click(chromedp.CSS(`tr[data-member="gone@example.com"] [data-do=remove]`)))
		p.do("confirm", 5*time.Second, chromedp.Click(chromedp.CSS(`tr[data-member="gone@example.com"] [data-do=confirm-remove]`)))
		p.waitFor("row gone", `!`+gone+` && document.querySelector("#alert-text").textContent === "gone@example.com was removed."`, pageErrors, 10*time.Second)
		if roles := memberRoles(e, org, boss.token); roles["gone@example.com"] != nil || roles["mo@example.com"] != "member" || len(roles) != 4 {
			t.Fatalf("after Confirm the members are %v; want gone@example.com removed and nobody else", roles)
		}

		// The last admin cannot leave: the server's 409 shows by the members.
		p.do("leave as last admin", 5*time.Second, chromedp.Click(chromedp.CSS("#org-leave")))
		p.waitFor("refusal shown", `(document.querySelector("#org-members > .inline-error")||{textContent: ""}).textContent.includes("last admin")`, pageErrors, 10*time.Second)

		// An out-of-range retention is refused by the server, which names the field.
		p.waitFor("settings", `!document.querySelector("#org-settings").hidden && document.querySelector("#set-retention").value === "0"`, pageErrors, 10*time.Second)
		p.do("bad retention", 10*time.Second, chromedp.SetValue(chromedp.CSS("#set-retention"), ""), chromedp.SendKeys(chromedp.CSS("#set-retention"), "4000"),
			chromedp.Click(chromedp.CSS("#settings-save")))
		p.waitFor("refusal shown", `(document.querySelector("#org-settings > .inline-error")||{}).textContent`, pageErrors, 10*time.Second)
		if got := p.text("#org-settings > .inline-error"); !strings.Contains(got, "retention_days") {
			t.Errorf("refusal reads %q; want the server's error naming retention_days", got)
		}
		p.do("good settings", 10*time.Second, chromedp.SetValue(chromedp.CSS("#set-retention"), ""), chromedp.SendKeys(chromedp.CSS("#set-retention"), "30"),
			chromedp.SendKeys(chromedp.CSS("#set-callback"), hook), chromedp.Click(chromedp.CSS("#settings-save")))
		p.waitFor("saved", `document.querySelector("#alert-text").textContent === "Settings saved." && !(document.querySelector("#org-settings > .inline-error")||{}).textContent`, pageErrors, 10*time.Second)
		p.waitFor("audit trail", `document.querySelector("#org-timeline").textContent.includes("retention 30 days")`, `document.querySelector("#org-timeline").textContent`, 10*time.Second)
		p.keepShot("admin")
		if bad := p.problems(); len(bad) > 0 {
			t.Errorf("page errors: %q", bad)
		}
	})
	if !admin {
		t.Fatal("the admin's steps failed; the other roles have nothing to check")
	}
	if org == "" {
		return // -run left the admin's steps out
	}

	t.Run("API holds what the page set", func(t *testing.T) {
		s := e.mustCall("GET", "/api/orgs/"+org+"/settings", boss.token, nil, http.StatusOK)
		if s["retention_days"] != float64(30) || s["callback_url"] != hook {
			t.Errorf("settings = %v", s)
		}
		if roles := memberRoles(e, org, boss.token); roles["op@example.com"] != "operator" || roles["boss@example.com"] != "admin" {
			t.Errorf("members = %v", roles)
		}
	})

	// visible lists what a user can act on: shown buttons, editable fields.
	const controls = `[...document.querySelectorAll("#view-org button, #view-org input, #view-org select")]
		.filter(x => x.offsetParent !== null && !x.disabled && !x.readOnly).map(x => x.id || x.dataset.do || x.tagName).join(",")`

	t.Run("member", func(t *testing.T) {
		p := openOrgsAs(t, e, "mo@example.com", "#/orgs")
		p.waitFor("listed", `document.querySelector('#orgs-table tr[data-org="`+org+`"]')`, `document.querySelector("#orgs-table").textContent`, 10*time.Second)
		if got := p.text(`#orgs-table tr[data-org="` + org + `"]`); !strings.Contains(got, "Records <b>B</b>") || !strings.Contains(got, "member") {
			t.Errorf("member's row reads %q; want the name and role member", got)
		}
		p.do("open org", 5*time.Second, chromedp.Click(chromedp.CSS(`#orgs-table tr[data-org="`+org+`"] a`)))
		p.waitFor("members", `document.querySelector("#org-role").textContent === "member" && document.querySelector('tr[data-member="op@example.com"]')`, pageErrors, 10*time.Second)
		if got := p.text("#members-table"); !strings.Contains(got, "boss@example.com") || !strings.Contains(got, "operator") || strings.Contains(got, "Change role") {
			t.Errorf("member sees members %q; want them with roles and no controls", got)
		}
		if got := p.text(`tr[data-member="op@example.com"]`); !strings.HasSuffix(got, "boss@example.com") {
			t.Errorf("op's row reads %q; want boss@example.com as who added them", got)
		}
		if got := eval[string](p, controls); got != "org-leave" {
			t.Errorf("member can use %q; want only org-leave", got)
		}
		if !eval[bool](p, `document.querySelector("#org-settings").hidden && document.querySelector("#org-audit").hidden`) {
			t.Error("member sees the settings or the audit trail")
		}
		p.keepShot("member")
		p.do("leave", 5*time.Second, chromedp.Click(chromedp.CSS("#org-leave")))
		p.waitFor("back on the list without it", `location.hash === "#/orgs" && document.querySelector("#orgs-table").textContent.includes("no organisation")`, pageErrors, 10*time.Second)
	})

	// An operator runs the organisation's jobs but neither manages its
	// members nor reads its settings or audit trail.
	t.Run("operator", func(t *testing.T) {
		p := openOrgsAs(t, e, "op@example.com", "#/orgs/"+org)
		p.waitFor("members", `document.querySelector("#org-role").textContent === "operator" && document.querySelector('tr[data-member="boss@example.com"]')`, pageErrors, 10*time.Second)
		if got := eval[string](p, controls); got != "org-leave" {
			t.Errorf("operator can use %q; want only org-leave", got)
		}
		if !eval[bool](p, `document.querySelector("#org-settings").hidden && document.querySelector("#org-audit").hidden`) {
			t.Error("operator sees the settings or the audit trail")
		}
	})

	t.Run("auditor", func(t *testing.T) {
		p := openOrgsAs(t, e, "aud@example.com", "#/orgs/"+org)
		p.waitFor("settings", `document.querySelector("#org-role").textContent === "auditor" && document.querySelector("#set-retention").value === "30"`, pageErrors, 10*time.Second)
		if got := eval[string](p, `document.querySelector("#set-callback").value`); got != hook {
			t.Errorf("callback shows %q", got)
		}
		p.keepShot("auditor")
		if eval[bool](p, `document.querySelector("#settings-readonly").hidden`) {
			t.Error("no read-only note for the auditor")
		}
		if got := eval[string](p, controls); got != "org-leave" {
			t.Errorf("auditor can use %q; want only org-leave", got)
		}
		p.waitFor("audit trail", `document.querySelector("#org-timeline").textContent.includes("Member removed")`, `document.querySelector("#org-timeline").textContent`, 10*time.Second)
		trail := p.text("#org-timeline")
		for _, want := range []string{"Organisation created: Records <b>B</b>", "Member added: op@example.com as auditor",
			"Role changed: op@example.com from auditor to operator", "Settings changed: retention 30 days, default callback URL set",
			"Member removed: mo@example.com (was member)", "by boss@example.com"} {
			if !strings.Contains(trail, want) {
				t.Errorf("audit trail lacks %q:\n%s", want, trail)
			}
		}
		if strings.Contains(trail, "{") {
			t.Errorf("audit trail shows raw JSON: %s", trail)
		}
		if bad := p.problems(); len(bad) > 0 {
			t.Errorf("page errors: %q", bad)
		}
	})

	// The console shows an outsider no organisation, not an error.
	t.Run("outsider", func(t *testing.T) {
		e.register("out@example.com")
		p := openOrgsAs(t, e, "out@example.com", "#/orgs/"+org)
		p.waitFor("not found", `!document.querySelector("#org-missing").hidden && document.querySelector("#org-body").hidden`, pageErrors, 10*time.Second)
	})
}

// memberRoles is the organisation's members by email, with their roles,
// as the API lists them.
func memberRoles(e *env, org, token string) map[string]any {
	e.t.Helper()
	roles := map[string]any{}
	for _, x := range e.mustCall("GET", "/api/orgs/"+org+"/members", token, nil, http.StatusOK)["members"].([]any) {
		roles[x.(map[string]any)["email"].(string)] = x.(map[string]any)["role"]
	}
	return roles
}
