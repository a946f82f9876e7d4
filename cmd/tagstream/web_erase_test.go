package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebConsoleErasure: on the job page an admin sets a legal hold with a
// reason (the badge shows, and the owner is offered no erasure while it
// holds); once it is lifted the owner erases the document data through
// the console (a reason, a confirmation), after which the page shows the
// erasure banner and neither the documents table nor the results tab
// shows the titles. An auditor sees the banner and no control.
func TestWebConsoleErasure(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	e := startEnv(t, testConfig(t), &fakeTagger{})
	owner := e.register("owner@example.com")
	admin := e.register("admin@example.com")
	e.register("auditor@example.com")
	const word = "Periwinkleatlas5823"
	job := e.startJob(owner, 2, map[string]any{"name": "Personnel files", "documents": []map[string]any{
		{"file_path": "hr/a.pdf", "title": word + " one"}, {"file_path": "hr/b.pdf", "title": word + " two"}}})
	e.waitStatus(owner, job, 30*time.Second, "completed")

	openJob := func(t *testing.T, email string) *page {
		return openJobAs(t, e, email, job, `document.querySelector("#job-status").className.includes("s-completed") && document.querySelector("#live-docs tbody tr[data-row]")`)
	}
	const (
		shown    = `(sel) => { const el = document.querySelector(sel); return !!el && el.offsetParent !== null; }`
		eraseBtn = `(` + shown + `)("#erase-btn")`
		holdBtn  = `(` + shown + `)("#hold-btn")`
		holdMark = `(` + shown + `)("#job-hold")`
		banner   = `(` + shown + `)("#job-erased")`
		govDiag  = `document.querySelector("#job-governance").textContent.replace(/\s+/g, " ") + " / " + document.querySelector("#alert-text").textContent`
	)
	typeReason := func(p *page, reason string) {
		p.do("reason", 5*time.Second, chromedp.SendKeys(chromedp.CSS("#gov-reason"), reason))
	}

	t.Run("admin holds", func(t *testing.T) {
		p := openJob(t, admin.email)
		p.waitFor("hold control", holdBtn+` && `+eraseBtn+` && !`+holdMark, govDiag, 10*time.Second)
		typeReason(p, "litigation 31")
		p.do("set hold", 5*time.Second, chromedp.Click(chromedp.CSS("#hold-btn")))
		p.waitFor("hold badge", holdMark+` && !`+eraseBtn+` && document.querySelector("#hold-btn").textContent === "Lift legal hold"`, govDiag, 10*time.Second)
		if s := e.status(owner, job); s["legal_hold"] != true || s["legal_hold_reason"] != "litigation 31" {
			t.Fatalf("status after the console's hold: %v %v", s["legal_hold"], s["legal_hold_reason"])
		}
	})

	t.Run("owner erases", func(t *testing.T) {
		p := openJob(t, owner.email)
		p.waitFor("hold badge", holdMark, govDiag, 10*time.Second)
		if eval[bool](p, eraseBtn) || eval[bool](p, holdBtn) {
			t.Fatal("the owner is offered an erasure or a hold while the job is held")
		}
		e.mustCall("POST", "/api/batch/jobs/"+job+"/legal-hold", admin.token, map[string]any{"on": false, "reason": "case closed"}, 200)
		p.do("reload", 20*time.Second, chromedp.Reload()) // the session stays in localStorage
		p.waitFor("job page again", `document.body.dataset.ready === "1" && document.querySelector("#job-id").textContent === "`+job+`" && document.querySelector("#live-docs tbody tr[data-row]")`,
			`location.hash`, 10*time.Second)
		p.waitFor("erase control", eraseBtn+` && !`+holdBtn+` && !`+holdMark, govDiag, 10*time.Second)
		if got := p.text("#live-docs"); !strings.Contains(got, word) {
			t.Fatalf("before the erasure the documents table lacks the titles: %q", got)
		}
		// No reason: the page asks for one and erases nothing.
		p.do("erase without reason", 5*time.Second, chromedp.Click(chromedp.CSS("#erase-btn")))
		p.waitFor("reason asked", `document.querySelector("#job-governance .inline-error") && !document.querySelector("#job-governance .inline-error").hidden && document.querySelector("#erase-confirm").hidden`, govDiag, 5*time.Second)
		typeReason(p, "subject request 88")
		p.do("erase", 5*time.Second, chromedp.Click(chromedp.CSS("#erase-btn")))
		p.waitFor("confirmation", `!document.querySelector("#erase-confirm").hidden`, govDiag, 5*time.Second)
		if s := e.status(owner, job); s["erased"] != false {
			t.Fatal("erased before the confirmation")
		}
		p.do("confirm", 5*time.Second, chromedp.Click(chromedp.CSS("#erase-yes")))
		p.waitFor("erasure banner", banner+` && document.querySelector("#job-erased").textContent.includes("Document data erased on") && document.querySelector("#job-erased").textContent.includes("(subject request 88)") && !`+eraseBtn,
			govDiag, 10*time.Second)
		p.waitFor("rows without titles", `document.querySelectorAll("#live-docs tbody tr[data-row]").length === 2 && !document.querySelector("#live-docs").textContent.includes("`+word+`")`,
			`document.querySelector("#live-docs").textContent`, 10*time.Second)
		p.do("results tab", 5*time.Second, chromedp.Click(chromedp.CSS("#tab-results")))
		p.waitFor("results without titles", `document.querySelectorAll("#results-table tbody tr").length === 2 && !document.querySelector("#results-table").textContent.includes("`+word+`")`,
			`document.querySelector("#results-table").textContent`, 10*time.Second)
		if s := e.status(owner, job); s["erased"] != true || s["erase_reason"] != "subject request 88" {
			t.Fatalf("status after the console's erasure: %v %v", s["erased"], s["erase_reason"])
		}
		p.keepShot("erased")
		eval[string](p, `location.hash = "#/jobs"`)
		p.waitFor("erased in the job list", `[...document.querySelectorAll("#history-jobs tbody tr[data-job]")].some(r => r.dataset.job === "`+job+`" && r.textContent.includes("erased"))`,
			`document.querySelector("#history-jobs").textContent.slice(0, 300)`, 10*time.Second)
		if bad := p.problems(); len(bad) > 0 {
			t.Errorf("page errors: %q", bad)
		}
	})

	t.Run("auditor", func(t *testing.T) {
		p := openJob(t, "auditor@example.com")
		p.waitFor("erasure banner", banner, govDiag, 10*time.Second)
		if eval[bool](p, `!document.querySelector("#job-governance").hidden`) || eval[bool](p, eraseBtn) || eval[bool](p, holdBtn) {
			t.Error("the auditor is offered erasure or hold controls")
		}
		const controls = `[...document.querySelectorAll("[data-action]")].filter(b => b.offsetParent !== null && !b.disabled).map(b => b.dataset.action).join(",")`
		if got := eval[string](p, controls); got != "" {
			t.Errorf("the auditor sees enabled controls %q", got)
		}
	})
}
