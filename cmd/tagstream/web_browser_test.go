package main

// Helpers for the console's real-browser tests: finding Debian's chromium,
// starting it headless with a throwaway profile, waiting on page state, and
// keeping a screenshot of the page when a test fails.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/internal/web"
)

// findChromium returns a Chromium or Chrome binary, or skips the test: a
// developer machine without a browser should still run the rest.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TAGSTREAM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/lib/chromium/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Unavailable(t, "no chromium binary found: install the Debian package `chromium` (apt-get install -y chromium) or set TAGSTREAM_CHROMIUM")
	return ""
}

// page is one headless browser tab driven by a test.
type page struct {
	t   *testing.T
	ctx context.Context // the tab; per-step deadlines derive from it

	mu        sync.Mutex
	console   []chromedp.ConsoleMessage
	downloads string
}

// newPage starts a headless chromium with a fresh profile. Its cleanups
// save a screenshot first when the test failed, then stop the browser
// (t.Cleanup runs last-registered first).
func newPage(t *testing.T, width, height int) *page {
	t.Helper()
	bin := findChromium(t)
	profile := t.TempDir()
	downloads := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancelTab)
	p := &page{t: t, ctx: ctx, downloads: downloads}
	// Subscribe before the first navigation so no message is lost.
	msgs := chromedp.Console(ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium (%s): %v", bin, err)
	}
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			p.screenshot("failure")
			p.logConsole()
		}
	})
	return p
}

// artifactDir is where screenshots go: TAGSTREAM_TEST_ARTIFACTS when set
// (CI keeps it), else a directory that outlives the test so a developer
// can open the picture.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("TAGSTREAM_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tagstream-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("artifact dir: %v", err)
	}
	return dir
}

// screenshot saves a full-page PNG named after the test and logs its path.
func (p *page) screenshot(name string) string {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	file := filepath.Join(artifactDir(p.t), strings.NewReplacer("/", "_", " ", "_").Replace(p.t.Name())+"-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	p.t.Logf("screenshot: %s", file)
	return file
}

// keepShot saves a screenshot only when TAGSTREAM_TEST_ARTIFACTS asks for
// artefacts, so a normal run writes nothing.
func (p *page) keepShot(name string) {
	if os.Getenv("TAGSTREAM_TEST_ARTIFACTS") != "" {
		p.screenshot(name)
	}
}

func (p *page) logConsole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		p.t.Logf("console %s: %s", m.Type, m.Text)
	}
}

// problems lists the console messages that mean a broken page: uncaught
// exceptions and Content-Security-Policy violations.
func (p *page) problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.console {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			out = append(out, m.Text)
		}
	}
	return out
}

// do runs steps with a deadline and fails the test with the step's name.
func (p *page) do(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it holds; on timeout it fails
// with the value of a diagnostic expression so the log says what the page
// showed instead.
func (p *page) waitFor(what, cond, diag string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if eval[bool](p, "!!("+cond+")") {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: not within %s; page shows %q", what, timeout, eval[string](p, "String("+diag+")"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text returns the text content of the first element matching a selector.
func (p *page) text(sel string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel))
}

// choose selects an option of a <select> as a user would, firing change.
func (p *page) choose(sel, value string) {
	p.t.Helper()
	ok := eval[bool](p, fmt.Sprintf(`(() => { const s = document.querySelector(%q);
		if (!s || ![...s.options].some(o => o.value === %q)) return false;
		s.focus(); s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, value, value))
	if !ok {
		p.t.Fatalf("select %s has no option %q", sel, value)
	}
}

// consoleURL is where the browser loads the console: the server itself,
// which must serve it at /.
func consoleURL(t *testing.T, e *env) string {
	t.Helper()
	resp, err := http.Get(e.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / answered %d %s, want the console's HTML", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return e.url
}

// front serves the console and proxies the API from one origin, as a
// deployment behind a reverse proxy would. block, when set, answers the
// paths it matches with 404, to stand for a server without that endpoint.
func front(t *testing.T, e *env, block func(path string) bool) string {
	t.Helper()
	return consoleFront(t, e, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if block != nil && block(r.URL.Path) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"detail":"no route for %s %s","code":"not_found"}`, r.Method, r.URL.Path)
			return
		}
		next.ServeHTTP(w, r)
	}, nil)
}

// consoleFront is the one-origin front of the browser tests: the console
// and the API behind one server. Every request goes through via, which
// passes it on with next (or answers it itself), so a test can count,
// block or meter requests; hijacked, when set, gets each connection the
// proxy upgrades (a WebSocket), so a test can cut it.
func consoleFront(t *testing.T, e *env, via func(w http.ResponseWriter, r *http.Request, next http.Handler),
	hijacked func(net.Conn)) string {
	t.Helper()
	target, _ := url.Parse(e.url)
	api := httputil.NewSingleHostReverseProxy(target)
	ui := web.Handler()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/.well-known/") {
			api.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { via(w, r, next) }))
	if hijacked != nil {
		srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
			if s == http.StateHijacked {
				hijacked(c)
			}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// openJobAs opens the job's page in a new browser, signs in as email and
// waits for the page to show the job and ready (a JavaScript condition).
func openJobAs(t *testing.T, e *env, email, job, ready string) *page {
	t.Helper()
	p := newPage(t, 1280, 900)
	p.do("open", 20*time.Second, chromedp.Navigate(consoleURL(t, e)+"/#/jobs/"+job))
	p.waitFor("sign-in", `document.body.dataset.ready === "1"`, `location.hash`, 10*time.Second)
	logIn(p, email)
	p.waitFor("job page", `document.querySelector("#job-id").textContent === "`+job+`" && `+ready, statusDiag, 10*time.Second)
	return p
}

// waitDownload waits for a finished file (no .crdownload) in the download
// directory and returns its contents.
func (p *page) waitDownload(name string, timeout time.Duration) []byte {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(p.downloads, name)); err == nil && len(b) > 0 {
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, _ := os.ReadDir(p.downloads)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	p.t.Fatalf("download %s not saved within %s; directory has %v", name, timeout, names)
	return nil
}

// signIn opens the console and signs in as u with the test password.
func (p *page) signIn(e *env, u user) {
	p.do("open the console", 20*time.Second, chromedp.Navigate(consoleURL(p.t, e)+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	p.do("log in", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#login-email"), u.email),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct-horse-1"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	p.waitFor("logged in", `!document.querySelector("#view-new").hidden`, `document.querySelector("#alert-text").textContent`, 10*time.Second)
}
