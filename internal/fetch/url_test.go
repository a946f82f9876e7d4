package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

func TestFetchURLServesRealPDF(t *testing.T) {
	pdf := corpusPDF(t)
	junk := append(bytes.Repeat([]byte{'x'}, maxJunk), pdf...)
	tooMuchJunk := append(bytes.Repeat([]byte{'x'}, maxJunk+1), pdf...)
	mux := http.NewServeMux()
	mux.HandleFunc("/doc.pdf", servePDF(pdf))
	mux.HandleFunc("/junk.pdf", servePDF(junk))
	mux.HandleFunc("/toomuchjunk.pdf", servePDF(tooMuchJunk))
	// Content type is not trusted either way: a real PDF sent as
	// octet-stream is fine.
	mux.HandleFunc("/octet", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(pdf)
	})
	var ua string
	mux.HandleFunc("/ua", func(w http.ResponseWriter, r *http.Request) { ua = r.UserAgent(); w.Write(pdf) })
	s := newServer(t, mux)
	f := New(Config{AllowPrivate: true})

	for _, tc := range []struct {
		path string
		want []byte
	}{{"/doc.pdf", pdf}, {"/junk.pdf", junk}, {"/octet", pdf}, {"/ua", pdf}} {
		got, err := f.Fetch(ctx, Source{Type: "url", Path: s.URL + tc.path})
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got %d bytes, want %d", tc.path, len(got), len(tc.want))
		}
	}
	if ua != DefaultUserAgent {
		t.Errorf("User-Agent = %q, want %q", ua, DefaultUserAgent)
	}
	_, err := f.Fetch(ctx, Source{Type: "url", Path: s.URL + "/toomuchjunk.pdf"})
	wantErr(t, err, CodeNotPDF)
	// An empty Type is inferred from the path.
	if _, err := f.Fetch(ctx, Source{Path: s.URL + "/doc.pdf"}); err != nil {
		t.Errorf("inferred type: %v", err)
	}
}

func TestFetchURLTooLarge(t *testing.T) {
	const limit = 1000
	body := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{'a'}, 2*limit)...)
	mux := http.NewServeMux()
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) { w.Write(body[:limit]) })
	mux.HandleFunc("/with-length", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(body); i += 100 {
			w.Write(body[i:min(i+100, len(body))])
			w.(http.Flusher).Flush()
		}
	})
	// Claims 1 GiB and then stalls: only an early refusal on the header
	// can finish before the read timeout.
	mux.HandleFunc("/claims-huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		w.Write(body[:100])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	s := newServer(t, mux)
	f := New(Config{AllowPrivate: true, MaxBytes: limit, ReadTimeout: 5 * time.Second})

	if got, err := f.Fetch(ctx, Source{Type: "url", Path: s.URL + "/exact"}); err != nil || len(got) != limit {
		t.Fatalf("exactly MaxBytes: %d bytes, %v", len(got), err)
	}
	_, err := f.Fetch(ctx, Source{Type: "url", Path: s.URL + "/with-length"})
	wantErr(t, err, CodeTooLarge, "server reports", "1000 bytes")
	_, err = f.Fetch(ctx, Source{Type: "url", Path: s.URL + "/chunked"})
	wantErr(t, err, CodeTooLarge, "more than the 1000 bytes limit")
	start := time.Now()
	_, err = f.Fetch(ctx, Source{Type: "url", Path: s.URL + "/claims-huge"})
	wantErr(t, err, CodeTooLarge, "1 GiB")
	quick(t, start, 2*time.Second)
}

func TestFetchURLTimeouts(t *testing.T) {
	stall := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	mux := http.NewServeMux()
	mux.HandleFunc("/no-headers", stall)
	mux.HandleFunc("/stall-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("%PDF-1.4\n"))
		w.(http.Flusher).Flush()
		stall(w, r)
	})
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("%PDF-1.4\n"))
		for {
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
				w.Write([]byte("x"))
			}
		}
	})
	s := newServer(t, mux)

	for _, tc := range []struct {
		name, path  string
		read, total time.Duration
		want        string
	}{
		{"headers stall beyond ReadTimeout", "/no-headers", 200 * time.Millisecond, 10 * time.Second, "no response headers within 200ms"},
		{"body stalls beyond ReadTimeout", "/stall-body", 200 * time.Millisecond, 10 * time.Second, "stopped sending data"},
		{"trickle beyond TotalTimeout", "/trickle", 2 * time.Second, 400 * time.Millisecond, "longer than the 400ms limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New(Config{AllowPrivate: true, ReadTimeout: tc.read, TotalTimeout: tc.total})
			start := time.Now()
			_, err := f.Fetch(ctx, Source{Type: "url", Path: s.URL + tc.path})
			wantErr(t, err, CodeTimeout, tc.want)
			quick(t, start, 2*time.Second)
		})
	}

	t.Run("connect beyond ConnectTimeout", func(t *testing.T) {
		f := New(Config{ConnectTimeout: 200 * time.Millisecond})
		withNames(f, map[string][]string{"slow.example": {"93.184.216.34"}})
		f.dialIP = func(ctx context.Context, _ string, _ netip.AddrPort) (net.Conn, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		start := time.Now()
		_, err := f.Fetch(ctx, Source{Type: "url", Path: "http://slow.example/doc.pdf"})
		wantErr(t, err, CodeTimeout, "connecting to slow.example timed out after 200ms")
		quick(t, start, 2*time.Second)
	})

	t.Run("caller cancels", func(t *testing.T) {
		f := New(Config{AllowPrivate: true})
		c, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := f.Fetch(c, Source{Type: "url", Path: s.URL + "/no-headers"})
		wantErr(t, err, CodeNetwork, "cancelled")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(err, context.Canceled) = false for %v", err)
		}
	})
}

func TestFetchURLRedirects(t *testing.T) {
	pdf := []byte("%PDF-1.4\nsmall")
	mux := http.NewServeMux()
	mux.HandleFunc("/loop/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop/b", http.StatusFound) })
	mux.HandleFunc("/loop/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop/a", http.StatusFound) })
	// /hops/N redirects N more times before serving the document.
	mux.HandleFunc("/hops/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			w.Write(pdf)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hops/%d", n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/to-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://files.example/doc.pdf", http.StatusFound)
	})
	s := newServer(t, mux)
	f := New(Config{AllowPrivate: true})

	if _, err := f.Fetch(ctx, Source{Type: "url", Path: s.URL + "/hops/5"}); err != nil {
		t.Errorf("5 redirects (the default limit) should be followed: %v", err)
	}
	_, err := f.Fetch(ctx, Source{Type: "url", Path: s.URL + "/hops/6"})
	wantErr(t, err, CodeRedirects, "too many redirects", "limit 5")
	_, err = f.Fetch(ctx, Source{Type: "url", Path: s.URL + "/loop/a"})
	wantErr(t, err, CodeRedirects, "redirect loop", "/loop/a")
	_, err = f.Fetch(ctx, Source{Type: "url", Path: s.URL + "/to-ftp"})
	wantErr(t, err, CodeBadSource, `"ftp"`)

	none := New(Config{AllowPrivate: true, MaxRedirects: -1})
	_, err = none.Fetch(ctx, Source{Type: "url", Path: s.URL + "/hops/1"})
	wantErr(t, err, CodeRedirects, "limit 0")
}

// TestDialCheckCannotBeBypassed proves the address rules apply to what is
// dialled, not to what the URL says: names that resolve to loopback, DNS
// rebinding, and redirects from a public host to private ones.
func TestDialCheckCannotBeBypassed(t *testing.T) {
	var hits counter
	target := newServer(t, hits.wrap(servePDF([]byte("%PDF-1.4\nsecret"))))
	tp := port(target)
	front := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Close so the next hop needs a new dial (and a new lookup).
		w.Header().Set("Connection", "close")
		switch r.URL.Path {
		case "/to-literal":
			http.Redirect(w, r, "http://127.0.0.1:"+tp+"/", http.StatusFound)
		case "/to-name":
			http.Redirect(w, r, "http://internal.example:"+tp+"/", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-decimal":
			http.Redirect(w, r, "http://2130706433:"+tp+"/", http.StatusFound)
		case "/rebind":
			http.Redirect(w, r, "http://rebind.example:"+tp+"/", http.StatusFound)
		}
	}))
	fp := port(front)
	names := map[string][]string{
		"public.example":   {"93.184.216.34"},
		"internal.example": {"127.0.0.1"},
		"loopback.example": {"127.0.0.1"},
		"mixed.example":    {"93.184.216.34", "10.0.0.5"},
	}
	newF := func(allow bool) *Fetcher {
		f := New(Config{AllowPrivate: allow})
		withNames(f, names)
		withNAT(f, "93.184.216.34")
		// A rebinding name answers public once, then loopback.
		var n counter
		base := f.lookup
		f.lookup = func(c context.Context, host string) ([]netip.Addr, error) {
			if host == "rebind.example" {
				if n.n.Add(1) == 1 {
					return base(c, "public.example")
				}
				return base(c, "internal.example")
			}
			return base(c, host)
		}
		return f
	}

	for _, tc := range []struct{ url, want string }{
		{"http://loopback.example:" + tp + "/", "refused: loopback.example resolves to loopback address 127.0.0.1 (set TAGSTREAM_FETCH_ALLOW_PRIVATE=true to allow)"},
		{"http://mixed.example:" + tp + "/", "resolves to private address 10.0.0.5"},
		{"http://public.example:" + fp + "/to-literal", "127.0.0.1 is a loopback address"},
		{"http://public.example:" + fp + "/to-name", "internal.example resolves to loopback address 127.0.0.1"},
		{"http://public.example:" + fp + "/to-metadata", "cloud metadata"},
		{"http://public.example:" + fp + "/to-decimal", "2130706433 is an encoded form of loopback address 127.0.0.1"},
		{"http://rebind.example:" + fp + "/rebind", "rebind.example resolves to loopback address 127.0.0.1"},
	} {
		_, err := newF(false).Fetch(ctx, Source{Type: "url", Path: tc.url})
		wantErr(t, err, CodeForbiddenAddress, tc.want)
	}
	if n := hits.n.Load(); n != 0 {
		t.Fatalf("the private target was reached %d times", n)
	}

	// The same hops are fine once private addresses are allowed.
	for _, path := range []string{"http://loopback.example:" + tp + "/", "http://public.example:" + fp + "/to-name", "http://rebind.example:" + fp + "/rebind"} {
		if _, err := newF(true).Fetch(ctx, Source{Type: "url", Path: path}); err != nil {
			t.Errorf("%s with AllowPrivate: %v", path, err)
		}
	}
}

func TestFetchURLNotPDF(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please log in</body></html>"))
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", "application/pdf") })
	mux.HandleFunc("/png", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("\x89PNG\r\n\x1a\n0000")) })
	s := newServer(t, mux)
	f := New(Config{AllowPrivate: true})
	for _, tc := range []struct{ path, want string }{
		{"/html", "HTML document"},
		{"/empty", "empty"},
		{"/png", "image/png"},
	} {
		_, err := f.Fetch(ctx, Source{Type: "url", Path: s.URL + tc.path})
		e := wantErr(t, err, CodeNotPDF, "not a PDF", tc.want)
		// The reason goes into the permanent log, so it names the type
		// and never quotes what an internal server answered.
		if tc.path == "/html" && (strings.Contains(e.Reason, "Sign in") || strings.Contains(e.Reason, "log in")) {
			t.Errorf("reason %q quotes the page", e.Reason)
		}
	}
}

func TestFetchURLStatus(t *testing.T) {
	s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	}))
	f := New(Config{AllowPrivate: true})
	for _, tc := range []struct {
		status int
		code   string
	}{{404, CodeNotFound}, {410, CodeNotFound}, {403, CodeHTTPStatus}, {500, CodeHTTPStatus}, {503, CodeHTTPStatus}} {
		_, err := f.Fetch(ctx, Source{Type: "url", Path: fmt.Sprintf("%s/%d?token=secret", s.URL, tc.status)})
		e := wantErr(t, err, tc.code, strconv.Itoa(tc.status))
		var se *HTTPStatusError
		if !errors.As(e, &se) || se.StatusCode != tc.status {
			t.Errorf("%d: Err = %v, want *HTTPStatusError with the status", tc.status, e.Err)
		}
		if strings.Contains(e.Reason, "secret") {
			t.Errorf("reason leaks the query string: %q", e.Reason)
		}
	}
}

// TestForbiddenAddresses covers literal and encoded hosts; none of them may
// reach the loopback server, and the decision needs no network at all.
func TestForbiddenAddresses(t *testing.T) {
	var hits counter
	s := newServer(t, hits.wrap(servePDF([]byte("%PDF-1.4\n"))))
	p := port(s)
	f := New(Config{})
	withNames(f, map[string][]string{"localhost": {"127.0.0.1", "::1"}})
	for _, tc := range []struct{ url, want string }{
		{"http://127.0.0.1:" + p + "/", "127.0.0.1 is a loopback address"},
		{"http://localhost:" + p + "/", "localhost resolves to loopback"},
		{"http://[::1]:" + p + "/", "::1 is a loopback address"},
		{"http://[::ffff:127.0.0.1]:" + p + "/", "loopback"},
		{"http://[::ffff:7f00:1]:" + p + "/", "loopback"},
		{"http://2130706433:" + p + "/", "encoded form of loopback address 127.0.0.1"},
		{"http://0177.0.0.1:" + p + "/", "encoded form of loopback address 127.0.0.1"},
		{"http://0x7f.0.0.1:" + p + "/", "encoded form of loopback"},
		{"http://127.1:" + p + "/", "encoded form of loopback"},
		{"http://0x7f000001:" + p + "/", "encoded form of loopback"},
		{"http://0/", "encoded form of unspecified address 0.0.0.0"},
		{"http://0x/", "unspecified"},
		{"http://0.1.2.3/", "this-network"},
		{"http://0.0.0.0:" + p + "/", "unspecified"},
		{"http://10.0.0.5/", "private"},
		{"http://172.16.3.4/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://[fc00::1]/", "private"},
		{"http://[fd00:ec2::254]/", "private"},
		{"http://169.254.169.254/latest/meta-data/", "cloud metadata"},
		{"http://[::ffff:169.254.169.254]/", "cloud metadata"},
		{"http://169.254.1.1/", "link-local"},
		{"http://[fe80::1]/", "link-local"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://100.64.0.1/", "carrier-grade NAT"},
		{"http://224.0.0.1/", "multicast"},
		{"http://[ff02::1]/", "multicast"},
		{"http://255.255.255.255/", "reserved"},
		{"http://[64:ff9b::a00:5]/", "NAT64-embedded private"},
		{"http://[2002:7f00:1::]/", "6to4-embedded loopback"},
		{"http://[::127.0.0.1]/", "IPv4-compatible"},
	} {
		_, err := f.Fetch(ctx, Source{Type: "url", Path: tc.url})
		wantErr(t, err, CodeForbiddenAddress, tc.want, "TAGSTREAM_FETCH_ALLOW_PRIVATE=true")
		if err := f.Check(ctx, Source{Type: "url", Path: tc.url}); err == nil {
			t.Errorf("Check(%s) = nil", tc.url)
		}
	}
	if n := hits.n.Load(); n != 0 {
		t.Fatalf("loopback server reached %d times", n)
	}

	allow := New(Config{AllowPrivate: true})
	withNames(allow, map[string][]string{"localhost": {"127.0.0.1"}})
	for _, u := range []string{"http://127.0.0.1:" + p + "/", "http://localhost:" + p + "/", "http://[::ffff:127.0.0.1]:" + p + "/"} {
		if _, err := allow.Fetch(ctx, Source{Type: "url", Path: u}); err != nil {
			t.Errorf("%s with AllowPrivate: %v", u, err)
		}
	}
	// Encodings stay refused even when allowed: parsers disagree on them.
	for _, u := range []string{"http://2130706433:" + p + "/", "http://0177.0.0.1:" + p + "/", "http://134744072/"} {
		_, err := allow.Fetch(ctx, Source{Type: "url", Path: u})
		wantErr(t, err, CodeBadSource, "unusual encoding")
	}
	if n := hits.n.Load(); n != 3 {
		t.Fatalf("server reached %d times, want 3 (the allowed fetches only)", n)
	}
}

func TestControlRechecksDialledAddress(t *testing.T) {
	f := New(Config{})
	for _, a := range []string{"127.0.0.1:80", "[::1]:443", "10.1.2.3:80", "[::ffff:169.254.169.254]:80", "garbage"} {
		if err := f.control("tcp", a, nil); err == nil {
			t.Errorf("control(%s) = nil, want refusal", a)
		}
	}
	if err := f.control("tcp", "93.184.216.34:443", nil); err != nil {
		t.Errorf("public address refused: %v", err)
	}
	if err := New(Config{AllowPrivate: true}).control("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
	if tr := f.client.Transport.(*http.Transport); tr.Proxy != nil {
		t.Error("transport uses a proxy; environment proxies would bypass the address check")
	}
}

func TestBadURLs(t *testing.T) {
	f := New(Config{})
	for _, u := range []string{"ftp://example.com/a.pdf", "file:///etc/passwd", "http://", "http:///path", "http://exa mple.com/", "http://example.com:99999/", "gopher://x", "http://1.2.3.4.5/", "http://1.256.0.0/"} {
		_, err := f.Fetch(ctx, Source{Type: "url", Path: u})
		wantErr(t, err, CodeBadSource)
	}
	withNames(f, nil)
	_, err := f.Fetch(ctx, Source{Type: "url", Path: "http://nonexistent.invalid/"})
	wantErr(t, err, CodeNetwork, "cannot resolve host nonexistent.invalid: no such host")
	// A refused connection names the host, not local socket details.
	l := New(Config{AllowPrivate: true})
	s := newServer(t, http.NotFoundHandler())
	dead := s.URL
	s.Close()
	_, err = l.Fetch(ctx, Source{Type: "url", Path: dead})
	wantErr(t, err, CodeNetwork, "cannot connect to 127.0.0.1:", "connection refused")
}
