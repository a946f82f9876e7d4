package main

// The console per role (issue 13 item 4): auditors and admins see every
// user's jobs with their owner; an auditor gets no Pause/Cancel/Retry on
// another user's job (the server would answer 403), an admin does; a user
// sees only their own jobs and no "all users" switch. The job page shows
// the job's name, owner, settings, exclusions and times, and the job list
// searches by name, filters failed jobs and sorts.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tagstream/tagstream/services/pipeline"
)

func TestWebConsoleRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		if strings.HasPrefix(in.Document.Title, "Broken") {
			return errors.New("unreadable scan")
		}
		return nil
	}}
	e := startEnv(t, testConfig(t), tagger)
	owner := e.register("owner@example.com")
	e.register("auditor@example.com")
	e.register("admin@example.com")
	// A finished job with a name and settings, a failed one, then a running one.
	done := e.startJob(owner, 2, map[string]any{"name": "Board minutes 2023",
		"config": map[string]any{"model_name": "builtin/keywords", "exclusion_words": []string{"confidential", "draft"}, "ocr": "off", "tag_language": "original", "cache": false}})
	e.waitStatus(owner, done, 30*time.Second, "completed")
	broken := e.startJob(owner, 1, map[string]any{"name": "Scanned letters", "documents": []map[string]any{{"file_path": "x.pdf", "title": "Broken 0"}}})
	e.waitStatus(owner, broken, 30*time.Second, "completed", "failed")
	gate := make(chan struct{})
	tagger.setGate(gate)
	t.Cleanup(func() { close(gate) })
	running := e.startJob(owner, 3, map[string]any{"name": "Contracts in progress"})
	e.waitStatus(owner, running, 10*time.Second, "processing")

	open := func(t *testing.T, email string) *page {
		p := newPage(t, 1280, 900)
		p.do("open", 20*time.Second, chromedp.Navigate(consoleURL(t, e)+"/#/jobs"))
		p.waitFor("sign-in", `document.body.dataset.ready === "1"`, `location.hash`, 10*time.Second)
		logIn(p, email)
		p.waitFor("job list", `!document.querySelector("#view-jobs").hidden && document.querySelector("#history-jobs tbody tr")`, `location.hash`, 10*time.Second)
		return p
	}
	listed := `[...document.querySelectorAll("#history-jobs tbody tr[data-job]")].map(r => r.dataset.job).join(",")`
	openJob := func(p *page, id string) {
		eval[string](p, `location.hash = "#/jobs/`+id+`"`)
		p.waitFor("job page", `document.querySelector("#job-id").textContent === "`+id+`" && document.querySelector("#job-status").className.includes("s-processing") && document.querySelector("[data-meta=owner]")`, statusDiag, 10*time.Second)
	}
	const controls = `[...document.querySelectorAll("[data-action]")].filter(b => b.offsetParent !== null && !b.disabled).map(b => b.dataset.action).join(",")`

	t.Run("auditor", func(t *testing.T) {
		p := open(t, "auditor@example.com")
		p.waitFor("every user's jobs, with owner", `document.querySelector("#history-all").checked && !document.querySelector("#all-wrap").hidden && document.querySelector("#history-jobs").textContent.includes("owner@example.com")`,
			`document.querySelector("#history-jobs").textContent.slice(0, 300)`, 10*time.Second)
		if got := eval[string](p, listed); !strings.Contains(got, done) || !strings.Contains(got, running) {
			t.Fatalf("auditor's list %q lacks the owner's jobs", got)
		}
		if got := p.text("#active-jobs"); !strings.Contains(got, "Contracts in progress") || !strings.Contains(got, "owner@example.com") {
			t.Errorf("active jobs for the auditor = %q; want the owner's running job by name with its owner", got)
		}
		openJob(p, running)
		if got := eval[string](p, controls); got != "" {
			t.Errorf("auditor sees enabled controls %q on another user's job; want none", got)
		}
		if eval[bool](p, `document.querySelector("#job-readonly").hidden`) {
			t.Error("no read-only note for the auditor")
		}
		p.keepShot("auditor")
		if bad := p.problems(); len(bad) > 0 {
			t.Errorf("page errors: %q", bad)
		}
	})

	t.Run("admin", func(t *testing.T) {
		p := open(t, "admin@example.com")
		p.waitFor("every user's jobs", `document.querySelector("#history-jobs").textContent.includes("owner@example.com")`, `document.querySelector("#history-jobs").textContent.slice(0, 300)`, 10*time.Second)
		openJob(p, running)
		if got := eval[string](p, controls); got != "pause,cancel" {
			t.Errorf("admin's enabled controls on a running job = %q; want pause,cancel", got)
		}
		if !eval[bool](p, `document.querySelector("#job-readonly").hidden`) {
			t.Error("read-only note shown to an admin")
		}
	})

	t.Run("user", func(t *testing.T) {
		p := open(t, owner.email)
		if !eval[bool](p, `document.querySelector("#all-wrap").hidden`) {
			t.Error(`a user is offered "all users' jobs"`)
		}
		// Names in the list, search by name, failed only, sort by status.
		p.waitFor("named jobs listed", `document.querySelector("#history-jobs").textContent.includes("Board minutes 2023")`, listed, 10*time.Second)
		p.do("search", 5*time.Second, chromedp.SendKeys(chromedp.CSS("#history-q"), "minutes"))
		p.waitFor("search by name", listed+` === "`+done+`"`, listed, 10*time.Second)
		eval[string](p, `(document.querySelector("#history-q").value = "", document.querySelector("#history-q").dispatchEvent(new Event("input")), "")`)
		p.waitFor("search cleared", listed+`.split(",").length === 3`, listed, 10*time.Second)
		p.do("failed only", 5*time.Second, chromedp.Click(chromedp.CSS("#history-failed")))
		p.waitFor("failed only", listed+` === "`+broken+`"`, listed, 10*time.Second)
		p.do("all again", 5*time.Second, chromedp.Click(chromedp.CSS("#history-failed")))
		p.choose("#history-sort", "-created")
		p.waitFor("oldest first", listed+` === "`+done+","+broken+","+running+`"`, listed, 10*time.Second)
		p.choose("#history-sort", "status")
		p.waitFor("by status", listed+`.startsWith("`+running+`")`, listed, 10*time.Second)

		// The job page: name, owner, settings, exclusions, times.
		eval[string](p, `location.hash = "#/jobs/`+done+`"`)
		p.waitFor("finished job page", `document.querySelector("#job-id").textContent === "`+done+`" && document.querySelector("[data-meta=duration]")`, statusDiag, 10*time.Second)
		want := map[string]string{"owner": "owner@example.com", "model": "builtin/keywords", "ocr": "off", "tag_language": "original",
			"cache": "off", "exclusions": "confidential, draft", "pages": "3", "tags": "8"}
		for k, v := range want {
			if got := p.text(`[data-meta=` + k + `] dd`); got != v {
				t.Errorf("job page %s = %q; want %q", k, got, v)
			}
		}
		for _, k := range []string{"created", "started", "finished", "duration"} {
			if p.text(`[data-meta=`+k+`] dd`) == "" {
				t.Errorf("job page has no %s", k)
			}
		}
		if got := p.text("#job-title"); got != "Board minutes 2023" {
			t.Errorf("job title %q; want its name", got)
		}
		openJob(p, running)
		if got := eval[string](p, controls); got != "pause,cancel" {
			t.Errorf("owner's enabled controls = %q; want pause,cancel", got)
		}
		if bad := p.problems(); len(bad) > 0 {
			t.Errorf("page errors: %q", bad)
		}
	})
}
