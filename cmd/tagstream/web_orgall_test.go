package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebConsoleOrgReadersSeeAll: all=true reads an organisation's every
// job for its operator even when the operator's global role is a plain
// user, so the console offers that operator the "all" switch on the job
// lists and the search page, off by default; ticking it shows a member's
// organisation job and documents (not the member's private ones). A plain
// member of the same organisation gets no switch.
func TestWebConsoleOrgReadersSeeAll(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	e := startEnv(t, testConfig(t), &fakeTagger{})
	boss, ann, bob, cat := e.register("boss@example.com"), e.register("ann@example.com"), e.register("bob@example.com"), e.register("cat@example.com")
	org := e.newOrg(boss, "Records O", map[string]string{ann.email: "operator", bob.email: "member", cat.email: "member"})
	own := titledJob(e, ann, "", "Own ledger")
	bobs := titledJob(e, bob, org, "Harbour survey")
	private := titledJob(e, bob, "", "Private diary")
	for _, j := range []struct {
		u  user
		id string
	}{{ann, own}, {bob, bobs}, {bob, private}} {
		e.waitStatus(j.u, j.id, 30*time.Second, "completed")
	}

	listed := `[...document.querySelectorAll("#history-jobs tbody tr[data-job]")].map(r => r.dataset.job).join(",")`
	// openJobs signs email in on the job list and waits for its history,
	// which loads only after the switch is decided.
	openJobs := func(t *testing.T, email string) *page {
		p := newPage(t, 1280, 900)
		p.do("open", 20*time.Second, chromedp.Navigate(consoleURL(t, e)+"/#/jobs"))
		p.waitFor("sign-in", `document.body.dataset.ready === "1"`, `location.hash`, 10*time.Second)
		logIn(p, email)
		p.waitFor("job history", `!document.querySelector("#view-jobs").hidden && document.querySelector("#history-jobs tbody tr")`, `location.hash`, 10*time.Second)
		return p
	}
	// openSearch goes to the search page and waits for its first answer,
	// which comes after the switch is decided.
	openSearch := func(p *page) {
		eval[string](p, `(location.hash = "#/search", "")`)
		p.waitFor("search answered", `/document|No documents/.test(document.querySelector("#search-count")?.textContent || "")`,
			`document.querySelector("#view-search").textContent`, 10*time.Second)
	}
	const found = `document.querySelector("#search-results").textContent`
	// shown: the element exists and is laid out (no hidden ancestor).
	shown := func(sel string) string { return `!!document.querySelector("` + sel + `")?.offsetParent` }

	t.Run("org operator", func(t *testing.T) {
		p := openJobs(t, ann.email)
		if got := eval[string](p, listed); got != own {
			t.Fatalf("operator's own list = %q; want only %s (all=true must wait for the tick)", got, own)
		}
		if !eval[bool](p, shown("#history-all")+` && !document.querySelector("#history-all").checked`) {
			t.Fatal(`the operator gets no "all" switch on the job list, or it is on by default`)
		}
		if got := p.text(`label[for="history-all"]`); got != "Jobs of my organisations too" {
			t.Errorf("switch label %q", got)
		}
		p.do("tick all", 5*time.Second, chromedp.Click(chromedp.CSS("#history-all")))
		p.waitFor("the member's organisation job", listed+`.includes("`+bobs+`")`, listed, 10*time.Second)
		if got := eval[string](p, listed); strings.Contains(got, private) || !strings.Contains(got, own) {
			t.Errorf("ticked list = %q; want own %s and org job %s, not the member's private %s", got, own, bobs, private)
		}

		openSearch(p)
		if got := eval[string](p, found); !strings.Contains(got, "Own ledger") || strings.Contains(got, "Harbour survey") {
			t.Fatalf("unticked search shows %q; want only the operator's own document", got)
		}
		if !eval[bool](p, shown("#search-all")+` && !document.querySelector("#search-all").checked`) {
			t.Fatal(`the operator gets no "all" switch on the search page`)
		}
		if got := p.text("#search-all-text"); got != "Documents of my organisations too" {
			t.Errorf("search switch label %q", got)
		}
		p.do("search all", 5*time.Second, chromedp.Click(chromedp.CSS("#search-all")), chromedp.Click(chromedp.CSS("#search-form button[type=submit]")))
		p.waitFor("the member's organisation documents", `location.hash.includes("all=true") && `+found+`.includes("Harbour survey")`, found, 10*time.Second)
		if got := eval[string](p, found); strings.Contains(got, "Private diary") || !strings.Contains(got, "Own ledger") {
			t.Errorf("search with all shows %q; want own and organisation documents, not the member's private one", got)
		}
		if bad := p.problems(); len(bad) > 0 {
			t.Errorf("page errors: %q", bad)
		}
	})

	// noSwitch checks that p's user (a plain member) is offered neither switch.
	noSwitch := func(t *testing.T, p *page) {
		if eval[bool](p, shown("#history-all")) {
			t.Error(`a plain member is offered the "all" switch on the job list`)
		}
		openSearch(p)
		if eval[bool](p, shown("#search-all")) {
			t.Error(`a plain member is offered the "all" switch on the search page`)
		}
		if bad := p.problems(); len(bad) > 0 {
			t.Errorf("page errors: %q", bad)
		}
	}

	t.Run("plain member", func(t *testing.T) { noSwitch(t, openJobs(t, cat.email)) })

	// The organisations are asked again for the next user of the same tab.
	t.Run("operator then member in one tab", func(t *testing.T) {
		p := openJobs(t, ann.email)
		p.waitFor("operator's switch", shown("#history-all"), `location.hash`, 10*time.Second)
		p.do("log out", 5*time.Second, chromedp.Click(chromedp.CSS("#logout")))
		eval[string](p, `(document.querySelector("#login-email").value = "", "")`) // the form keeps the last address
		logIn(p, cat.email)
		p.waitFor("member signed in", `!document.querySelector("#view-new").hidden`, `location.hash`, 10*time.Second)
		eval[string](p, `(location.hash = "#/jobs", "")`)
		p.waitFor("member's job history", `!document.querySelector("#view-jobs").hidden && /No jobs/.test(document.querySelector("#history-jobs").textContent)`,
			`document.querySelector("#history-jobs").textContent`, 10*time.Second)
		noSwitch(t, p)
	})
}
