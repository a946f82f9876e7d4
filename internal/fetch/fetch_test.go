package fetch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestInferType(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"http://example.com/a.pdf", "url"},
		{"https://example.com/a.pdf", "url"},
		{"HTTPS://EXAMPLE.COM/A.PDF", "url"},
		{"  https://example.com/a.pdf", "url"},
		{"s3://bucket/key.pdf", "s3"},
		{"S3://bucket/key.pdf", "s3"},
		{"docs/a.pdf", "local"},
		{"/srv/docs/a.pdf", "local"},
		{"ftp://example.com/a.pdf", "local"},
		{"http:/example.com", "local"},
		{"", "local"},
	} {
		if got := InferType(tc.path); got != tc.want {
			t.Errorf("InferType(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

type fakeStore struct{ data []byte }

func (s fakeStore) Get(_ context.Context, _, _ string, limit int64) ([]byte, error) {
	return s.data[:min(int64(len(s.data)), limit)], nil
}

func TestS3(t *testing.T) {
	f := New(Config{})
	for _, check := range []bool{false, true} {
		_, err := f.run(ctx, Source{Type: "s3", Path: "s3://bucket/docs/a.pdf"}, check)
		wantErr(t, err, CodeS3NotConfigured)
		if err.Error() != "S3 sources are not supported by this server (no S3 client configured)" {
			t.Errorf("reason = %q", err)
		}
	}
	for _, p := range []string{"s3://", "s3://bucket", "s3://bucket/", "bucket/key"} {
		_, err := f.Fetch(ctx, Source{Type: "s3", Path: p})
		wantErr(t, err, CodeBadSource, "s3://bucket/key")
	}
	// The seam: a plugged-in client gets the same size and magic rules.
	f.s3 = fakeStore{data: []byte("%PDF-1.7\nhello")}
	if got, err := f.Fetch(ctx, Source{Path: "s3://bucket/a.pdf"}); err != nil || !bytes.HasPrefix(got, []byte("%PDF")) {
		t.Errorf("with a client: %q, %v", got, err)
	}
	f.s3 = fakeStore{data: []byte("<html>")}
	_, err := f.Fetch(ctx, Source{Path: "s3://bucket/a.pdf"})
	wantErr(t, err, CodeNotPDF)
}

func TestUnknownType(t *testing.T) {
	_, err := New(Config{}).Fetch(ctx, Source{Type: "gopher", Path: "x"})
	wantErr(t, err, CodeBadSource, `"gopher"`)
}

func TestDefaults(t *testing.T) {
	c := New(Config{}).cfg
	if c.MaxBytes != 50<<20 || c.ConnectTimeout != 10*time.Second || c.ReadTimeout != 30*time.Second ||
		c.TotalTimeout != 120*time.Second || c.MaxRedirects != 5 || c.UserAgent != "tagstream/1 (+document tagger)" {
		t.Errorf("defaults = %+v", c)
	}
	if got := humanBytes(50 << 20); got != "50 MiB" {
		t.Errorf("humanBytes = %q", got)
	}
	e := &Error{Code: CodeNetwork, Reason: "r", Err: context.Canceled}
	if e.Error() != "r" || !errors.Is(e, context.Canceled) {
		t.Errorf("Error/Unwrap broken")
	}
}

func TestCheckURL(t *testing.T) {
	pdf := corpusPDF(t)
	html := []byte("<html><body>login</body></html>")
	serve := func(body []byte, ct string, refuseHead bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if refuseHead && r.Method == http.MethodHead {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", ct)
			// ServeContent answers HEAD and Range like real servers do.
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		}
	}
	var gets counter
	mux := http.NewServeMux()
	mux.HandleFunc("/pdf", gets.wrap(serve(pdf, "application/pdf", false)))
	mux.HandleFunc("/no-head", serve(pdf, "application/pdf", true))
	mux.HandleFunc("/no-head-html", serve(html, "application/pdf", true))
	mux.HandleFunc("/html-labelled-pdf", serve(html, "application/pdf", false))
	mux.HandleFunc("/html-type-but-pdf", serve(pdf, "text/html", false))
	mux.HandleFunc("/html", serve(html, "text/html", false))
	mux.HandleFunc("/empty", serve(nil, "application/pdf", true))
	s := newServer(t, mux)
	f := New(Config{AllowPrivate: true})

	for _, path := range []string{"/pdf", "/no-head", "/html-type-but-pdf"} {
		if err := f.Check(ctx, Source{Type: "url", Path: s.URL + path}); err != nil {
			t.Errorf("Check(%s): %v", path, err)
		}
	}
	for _, tc := range []struct{ path, code string }{
		{"/no-head-html", CodeNotPDF},
		{"/html-labelled-pdf", CodeNotPDF},
		{"/html", CodeNotPDF},
		{"/empty", CodeNotPDF},
		{"/missing", CodeNotFound},
	} {
		wantErr(t, f.Check(ctx, Source{Type: "url", Path: s.URL + tc.path}), tc.code)
	}
	small := New(Config{AllowPrivate: true, MaxBytes: 100})
	wantErr(t, small.Check(ctx, Source{Type: "url", Path: s.URL + "/pdf"}), CodeTooLarge, "server reports")
	// Through the ranged GET, the size comes from Content-Range.
	wantErr(t, small.Check(ctx, Source{Type: "url", Path: s.URL + "/no-head"}), CodeTooLarge, "server reports")
	if n := gets.n.Load(); n != 3 {
		t.Errorf("/pdf requested %d times, want 3 (HEAD and a ranged GET of the first bytes, then a HEAD that shows it too large)", n)
	}
}
