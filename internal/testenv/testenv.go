// Package testenv is the one place that decides what a test does when
// something outside the repository is missing: an external tool
// (pdftotext, chromium, tesseract), the shared corpus of real PDFs, or a
// PostgreSQL server.
//
// Under CI (env CI=true) a missing dependency fails the test with the
// reason, so a green CI run means the feature was exercised; on a
// developer machine the test skips with the same reason. Tests must not
// call t.Skip for these reasons themselves.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI (env CI set to true or 1).
func CI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// Unavailable stops the test because something it needs is missing:
// t.Fatal under CI, t.Skip elsewhere. Use it for dependencies the other
// helpers do not cover (for instance a browser found under several names).
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("CI=true and a test dependency is missing: %s", reason)
	}
	t.Skipf("%s (under CI=true this fails)", reason)
}

// RequireTool returns the path of the executable name, or stops the test
// (see Unavailable) when it is not on PATH.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "tool %q not found on PATH (%v); .ci/run installs it with apt", name, err)
	}
	return p
}

// Corpus returns the absolute path of the shared corpus of real PDFs,
// ../shared/corpus beside the module root, found by walking up from the
// test's package directory. It stops the test when the corpus is absent or
// empty.
func Corpus(t testing.TB) string {
	t.Helper()
	dir, err := CorpusDir()
	if err != nil {
		Unavailable(t, "shared corpus: %v", err)
	}
	return dir
}

// CorpusDir finds the corpus without a test, for callers (fuzz seeds,
// TestMain) that decide themselves what a missing corpus means.
func CorpusDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := ""
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "corpus")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("expected at %s (../shared/corpus from the module root): %v", dir, err)
	}
	for _, e := range entries {
		if strings.EqualFold(filepath.Ext(e.Name()), ".pdf") {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%s holds no PDF", dir)
}

// CorpusFile returns the path of one corpus file, stopping the test when
// the corpus or that file is missing.
func CorpusFile(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Corpus(t), name)
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "corpus file %s: %v", name, err)
	}
	return p
}

// PostgresEnv names the variable that points tests at a PostgreSQL server
// they may create tables in (.ci/run sets it).
const PostgresEnv = "TAGSTREAM_TEST_POSTGRES_URL"

// RequirePostgres returns the URL of the test PostgreSQL server, or stops
// the test when none is configured.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	u := strings.TrimSpace(os.Getenv(PostgresEnv))
	if u == "" {
		Unavailable(t, "%s is not set (postgres://user:pass@127.0.0.1:5432/db)", PostgresEnv)
	}
	return u
}
