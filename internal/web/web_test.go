package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = "console.example:8000"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestIndexAndAssets(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/":                  "text/html",
		"/index.html":        "text/html",
		"/assets/app.css":    "text/css",
		"/assets/js/main.js": "javascript",
		"/assets/js/api.js":  "javascript",
	} {
		rec := get(t, h, path, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, want) {
			t.Errorf("GET %s: content type %q, want %q", path, ct, want)
		}
		if rec.Header().Get("ETag") == "" || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: cache headers %v", path, rec.Header())
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}
}

func TestConditionalGetAnswers304(t *testing.T) {
	h := Handler()
	first := get(t, h, "/assets/js/job.js", nil)
	again := get(t, h, "/assets/js/job.js", map[string]string{"If-None-Match": first.Header().Get("ETag")})
	if again.Code != http.StatusNotModified {
		t.Fatalf("revalidation: %d, want 304", again.Code)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/nope", "/assets/nope.js", "/assets/../web.go", "/static/index.html", "/assets/index.html"} {
		if rec := get(t, h, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", rec.Code)
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	rec := get(t, Handler(), "/", nil)
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';",
		"connect-src 'self' ws://console.example:8000 wss://console.example:8000;", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	// A forged Host cannot add directives.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Host = "evil; script-src *"
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if csp := rec.Header().Get("Content-Security-Policy"); strings.Contains(csp, "evil") {
		t.Errorf("Host leaked into CSP: %q", csp)
	}
}

// TestNoInlineCode keeps the page compatible with its own CSP: inline
// scripts, event-handler attributes and style attributes would be blocked.
func TestNoInlineCode(t *testing.T) {
	root, _ := fs.Sub(static, "static")
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|\sstyle\s*=|<style|https?://[a-z]`)
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		b, _ := fs.ReadFile(root, p)
		if m := inline.Find(b); m != nil {
			t.Errorf("%s has inline code or a remote URL: %q", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestJavaScriptStaysLocal rejects remote imports and innerHTML: the
// console must run offline, and data goes into the page as text only.
func TestJavaScriptStaysLocal(t *testing.T) {
	root, _ := fs.Sub(static, "static")
	bad := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|from\s+"https?:|import\(\s*"https?:`)
	n := 0
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		n++
		b, _ := fs.ReadFile(root, p)
		if m := bad.Find(b); m != nil {
			t.Errorf("%s uses %q", p, m)
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("walked %d modules: %v", n, err)
	}
}
