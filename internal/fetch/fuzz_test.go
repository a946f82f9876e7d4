package fetch

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSourcePath feeds arbitrary paths to the local and URL validation. It
// must never panic, never accept a local path that lands outside the root,
// never read the file planted outside it, and never accept a URL whose host
// is a forbidden or ambiguous address.
func FuzzSourcePath(f *testing.F) {
	root, outside := localTree(f, []byte("%PDF-1.4 public"))
	if err := os.WriteFile(filepath.Join(outside, "secret.pdf"), []byte("%PDF-1.4 SECRET"), 0o644); err != nil {
		f.Fatal(err)
	}
	rootReal, err := filepath.EvalSymlinks(root)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"doc.pdf", "../outside/secret.pdf", "escape.pdf", "outdir/secret.pdf", "relescape",
		filepath.Join(outside, "secret.pdf"), root + "/doc.pdf", root + "/../outside/secret.pdf",
		"sub/./inner.pdf", "sub/..", "....//secret.pdf", "/", ".", "", "\x00",
		"http://127.0.0.1/", "http://2130706433/", "http://0177.0.0.1/", "http://[::ffff:127.0.0.1]/",
		"https://example.com/a.pdf?x=1", "http://0x7f.1/", "http://1.2.3.4.5/", "s3://b/k", "HTTP://[fe80::1%25en0]:80/",
	} {
		f.Add(s)
	}
	fe := New(Config{LocalRoot: root})
	f.Fuzz(func(t *testing.T, p string) {
		_ = InferType(p)

		if dir, rel, err := fe.resolveLocal(p); err == nil {
			if dir != rootReal {
				t.Fatalf("%q: root %q, want %q", p, dir, rootReal)
			}
			full := filepath.Join(dir, rel)
			if _, ok := within(rootReal, full); !ok {
				t.Fatalf("%q accepted as %q, outside the root", p, full)
			}
			if real, err := filepath.EvalSymlinks(full); err == nil {
				if _, ok := within(rootReal, real); !ok {
					t.Fatalf("%q accepted but resolves to %q, outside the root", p, real)
				}
			}
		} else {
			assertError(t, err)
		}
		data, err := fe.Fetch(ctx, Source{Type: "local", Path: p})
		if err != nil {
			assertError(t, err)
		} else if bytes.Contains(data, []byte("SECRET")) {
			t.Fatalf("%q read the file outside the root", p)
		}

		u, err := fe.validateURL(p)
		if err != nil {
			assertError(t, err)
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("%q accepted with scheme %q", p, u.Scheme)
		}
		host := u.Hostname()
		if host == "" {
			t.Fatalf("%q accepted without a host", p)
		}
		if a, err := netip.ParseAddr(host); err == nil {
			if k := forbiddenKind(a); k != "" {
				t.Fatalf("%q accepted although %s is %s", p, a, k)
			}
		} else if endsInNumber(host) {
			t.Fatalf("%q accepted with numeric-looking host %q", p, host)
		}
	})
}

func assertError(t *testing.T, err error) {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) || fe.Code == "" || fe.Reason == "" {
		t.Fatalf("error %T %q is not a complete *Error", err, err)
	}
}
