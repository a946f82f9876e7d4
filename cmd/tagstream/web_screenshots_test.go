package main

// The console's screenshots (issue 13): `task screenshots` runs this test
// with TAGSTREAM_SCREENSHOTS=screenshots, so the job list, a job page and
// the analytics are saved at 1,400 and 360 px from a server with sample
// data (the walk-through's PDFs tagged by builtin/keywords, missing files
// that fail, a job held at work). Without the variable the pictures go to
// a temporary directory, and the test still checks that no page is wider
// than its screen.

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tagstream/tagstream/services/pipeline"
)

// holdTagger holds documents whose title starts with "Held" until their
// job is cancelled or the test ends; the rest go to the real tagger.
type holdTagger struct{ next pipeline.Tagger }

func (h holdTagger) Tag(ctx context.Context, in pipeline.TagInput) (pipeline.TagOutput, error) {
	if strings.HasPrefix(in.Document.Title, "Held") {
		<-ctx.Done()
		return pipeline.TagOutput{}, ctx.Err()
	}
	return h.next.Tag(ctx, in)
}

func TestConsoleScreenshots(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	dir := os.Getenv("TAGSTREAM_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.LocalRoot = filepath.Join(root, "examples", "docs")
	e := startEnv(t, cfg, holdTagger{next: newTagger(cfg, testLogger())})
	u := e.register("clerk@example.com")
	docs := func(titles ...string) []map[string]any {
		var out []map[string]any
		for _, f := range []string{"circular-water.pdf", "tender-notice.pdf", "groff-report.pdf"} {
			out = append(out, map[string]any{"file_path": f, "title": strings.TrimSuffix(f, ".pdf")})
		}
		for _, t := range titles {
			out = append(out, map[string]any{"file_path": "archive/" + strings.ToLower(strings.ReplaceAll(t, " ", "-")) + ".pdf", "title": t})
		}
		return out
	}
	done := e.startJob(u, 0, map[string]any{"name": "Water and tenders, March", "documents": docs(),
		"config": map[string]any{"model_name": "builtin/keywords", "exclusion_words": []string{"page", "annex"}}})
	e.waitStatus(u, done, 60*time.Second, "completed")
	mixed := e.startJob(u, 0, map[string]any{"name": "Archive batch with missing scans", "documents": docs("Minutes 1998", "Minutes 1999")})
	e.waitStatus(u, mixed, 60*time.Second, "completed", "failed")
	running := e.startJob(u, 0, map[string]any{"name": "Contracts (in progress)", "documents": docs("Held contract A", "Held contract B")})
	waitProcessed(t, e, u, running, 3)

	shots := []struct{ name, hash, ready string }{
		{"jobs", "#/jobs", `!document.querySelector("#view-jobs").hidden && document.querySelector("#history-jobs tbody tr[data-job]") && document.querySelector("#active-jobs tbody a")`},
		{"job", "#/jobs/" + mixed, `document.querySelector("#job-id").textContent === "` + mixed + `" && document.querySelector("[data-meta=duration]") && document.querySelectorAll("#live-docs tbody tr").length === 5`},
		{"analytics", "#/analytics", `document.querySelectorAll("#analytics .hbars").length >= 3`},
	}
	for _, size := range []struct {
		label string
		width int
	}{{"1400", 1400}, {"360", 360}} {
		var p *page
		if size.width == 360 {
			p = newPhonePage(t)
		} else {
			p = newPage(t, size.width, 900)
		}
		p.do("open", 20*time.Second, chromedp.Navigate(consoleURL(t, e)+"/#/jobs"))
		p.waitFor("sign-in", `document.body.dataset.ready === "1"`, `location.hash`, 10*time.Second)
		logIn(p, u.email)
		for _, s := range shots {
			eval[string](p, `location.hash = "`+s.hash+`"`)
			p.waitFor(s.name+" ready", s.ready, `location.hash`, 20*time.Second)
			eval[string](p, `(document.activeElement && document.activeElement.blur(), window.scrollTo(0, 0), "")`)
			ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			cancel()
			if err != nil {
				t.Fatalf("screenshot %s at %s px: %v", s.name, size.label, err)
			}
			file := filepath.Join(dir, s.name+"-"+size.label+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			// A full-page PNG is as wide as the page: wider than the
			// screen means something sticks out sideways.
			if w := pngWidth(png); w != size.width {
				t.Errorf("%s at %d px: the page is %d px wide", s.name, size.width, w)
			}
			t.Logf("saved %s", file)
		}
		if bad := p.problems(); len(bad) > 0 {
			t.Errorf("page errors at %s px: %q", size.label, bad)
		}
	}
}

// pngWidth reads the width from a PNG's IHDR chunk (0 if it is not a PNG).
func pngWidth(b []byte) int {
	if len(b) < 24 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		return 0
	}
	return int(binary.BigEndian.Uint32(b[16:20]))
}
