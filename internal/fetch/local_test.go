package fetch

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// localTree builds root/{doc.pdf, sub/inner.pdf, notpdf.pdf, empty.pdf,
// dir/, inlink.pdf -> doc.pdf, escape.pdf -> outside, outdir -> outside dir}
// plus a PDF outside the root, and returns root and the outside directory.
func localTree(t testing.TB, pdf []byte) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub"), filepath.Join(root, "dir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "doc.pdf"), pdf)
	write(filepath.Join(root, "sub", "inner.pdf"), pdf)
	write(filepath.Join(root, "notpdf.pdf"), []byte("<html><body>Not found</body></html>"))
	write(filepath.Join(root, "empty.pdf"), nil)
	write(filepath.Join(outside, "secret.pdf"), pdf)
	links := map[string]string{
		"inlink.pdf": "doc.pdf",
		"escape.pdf": filepath.Join(outside, "secret.pdf"),
		"outdir":     outside,
		"relescape":  "../outside/secret.pdf",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func TestLocal(t *testing.T) {
	pdf := corpusPDF(t)
	root, outside := localTree(t, pdf)
	f := New(Config{LocalRoot: root})

	for _, p := range []string{"doc.pdf", "./doc.pdf", "sub/inner.pdf", "sub//inner.pdf", "inlink.pdf", filepath.Join(root, "doc.pdf")} {
		got, err := f.Fetch(ctx, Source{Type: "local", Path: p})
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if !bytes.Equal(got, pdf) {
			t.Errorf("%s: wrong bytes", p)
		}
		if err := f.Check(ctx, Source{Type: "local", Path: p}); err != nil {
			t.Errorf("Check(%s): %v", p, err)
		}
	}

	for _, tc := range []struct{ path, code, want string }{
		{"../outside/secret.pdf", CodeOutsideRoot, `".."`},
		{"sub/../../outside/secret.pdf", CodeOutsideRoot, `".."`},
		{"sub/../doc.pdf", CodeOutsideRoot, `".."`},
		{filepath.Join(outside, "secret.pdf"), CodeOutsideRoot, "outside the local root"},
		{"/etc/passwd", CodeOutsideRoot, "outside the local root"},
		{root + "/../outside/secret.pdf", CodeOutsideRoot, `".."`},
		{"escape.pdf", CodeOutsideRoot, "symbolic link"},
		{"relescape", CodeOutsideRoot, "symbolic link"},
		{"outdir/secret.pdf", CodeOutsideRoot, "symbolic link"},
		{"missing.pdf", CodeNotFound, `"missing.pdf" does not exist`},
		{"doc.pdf/x", CodeNotFound, "does not exist"},
		{"notpdf.pdf", CodeNotPDF, "HTML document"},
		{"empty.pdf", CodeNotPDF, "empty"},
		{"dir", CodeBadSource, "directory"},
		{".", CodeBadSource, "directory"},
		{"", CodeBadSource, "empty"},
		{"a\x00b", CodeBadSource, "NUL"},
	} {
		_, err := f.Fetch(ctx, Source{Type: "local", Path: tc.path})
		e := wantErr(t, err, tc.code, tc.want)
		if tc.code == CodeOutsideRoot && bytes.Contains([]byte(e.Reason), []byte(root)) && !bytes.Contains([]byte(tc.path), []byte(root)) {
			t.Errorf("reason leaks the server root: %q", e.Reason)
		}
		cerr := f.Check(ctx, Source{Type: "local", Path: tc.path})
		wantErr(t, cerr, tc.code)
	}
}

func TestLocalDisabled(t *testing.T) {
	f := New(Config{})
	for _, check := range []bool{false, true} {
		_, err := f.run(ctx, Source{Type: "local", Path: "doc.pdf"}, check)
		wantErr(t, err, CodeLocalDisabled)
		if err.Error() != "local files are disabled on this server (TAGSTREAM_LOCAL_ROOT is not set)" {
			t.Errorf("reason = %q", err)
		}
	}
	// A root that does not exist is a server problem, reported without
	// the path.
	f = New(Config{LocalRoot: filepath.Join(t.TempDir(), "nope")})
	_, err := f.Fetch(ctx, Source{Type: "local", Path: "doc.pdf"})
	wantErr(t, err, CodeLocalDisabled, "cannot be opened")
}

func TestLocalRootIsSymlink(t *testing.T) {
	pdf := corpusPDF(t)
	root, _ := localTree(t, pdf)
	alias := filepath.Join(t.TempDir(), "alias")
	if err := os.Symlink(root, alias); err != nil {
		t.Fatal(err)
	}
	f := New(Config{LocalRoot: alias})
	for _, p := range []string{"doc.pdf", filepath.Join(alias, "doc.pdf"), filepath.Join(root, "doc.pdf")} {
		if _, err := f.Fetch(ctx, Source{Type: "local", Path: p}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	_, err := f.Fetch(ctx, Source{Type: "local", Path: "escape.pdf"})
	wantErr(t, err, CodeOutsideRoot)
}

func TestLocalLimits(t *testing.T) {
	pdf := corpusPDF(t)
	root, _ := localTree(t, pdf)
	f := New(Config{LocalRoot: root, MaxBytes: int64(len(pdf) - 1)})
	_, err := f.Fetch(ctx, Source{Type: "local", Path: "doc.pdf"})
	wantErr(t, err, CodeTooLarge, "over the")
	wantErr(t, f.Check(ctx, Source{Type: "local", Path: "doc.pdf"}), CodeTooLarge)

	// A FIFO must be refused, not block the worker waiting for a writer.
	if err := syscall.Mkfifo(filepath.Join(root, "fifo.pdf"), 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	_, err = f.Fetch(ctx, Source{Type: "local", Path: "fifo.pdf"})
	wantErr(t, err, CodeBadSource, "not a regular file")
}
