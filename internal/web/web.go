// Package web is Tagstream's browser console: a single page of plain
// HTML, CSS and JavaScript modules, embedded in the binary so the console
// needs no build step, no CDN and no files next to the executable.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// asset is one embedded file with the headers computed once at start-up.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console: index.html at "/" and the files under
// /assets/. Every answer carries a strict Content-Security-Policy, and
// files are revalidated by ETag on each use so a new binary's console is
// picked up at once while unchanged files cost only a 304.
func Handler() http.Handler {
	files := map[string]asset{}
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory exists
	}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(b)
		}
		files["/"+p] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return &handler{files: files, started: time.Now()}
}

type handler struct {
	files   map[string]asset
	started time.Time
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header(), r.Host)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == "/" || p == "/index.html" {
		p = "/index.html"
	} else if strings.HasPrefix(p, "/assets/") {
		p = "/" + strings.TrimPrefix(p, "/assets/")
		if p == "/index.html" {
			http.NotFound(w, r)
			return
		}
	} else {
		http.NotFound(w, r)
		return
	}
	a, ok := h.files[path.Clean(p)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("ETag", a.etag)
	// no-cache means "revalidate before use", not "do not store": assets have
	// stable names (there is no build step to fingerprint them), so the ETag
	// is what keeps a browser from running a stale module after an upgrade.
	hdr.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, p, h.started, bytes.NewReader(a.body))
}

// setSecurityHeaders forbids inline script and style, foreign origins and
// framing. connect-src names ws:// and wss:// of the page's own host as
// well as 'self' because browsers that predate CSP level 3 do not let
// 'self' cover WebSocket schemes.
func setSecurityHeaders(h http.Header, host string) {
	connect := "'self'"
	if validHost(host) {
		connect += " ws://" + host + " wss://" + host
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "+
		"font-src 'self'; connect-src "+connect+"; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// validHost accepts host[:port] made of the characters a DNS name, an IPv4
// or a bracketed IPv6 address use, so a forged Host header cannot inject
// extra CSP directives.
func validHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for _, c := range host {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}
