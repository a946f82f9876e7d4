// Package testenv decides what a test does when something outside the
// repository is missing: fail under CI (CI=true), skip elsewhere.
//
// Placeholder with the same API as the opsci branch's package; at merge
// keep that branch's version.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI.
func CI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// Unavailable fails the test under CI and skips it elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("CI=true and a test dependency is missing: %s", reason)
	}
	t.Skipf("%s (under CI=true this fails)", reason)
}

// RequireTool returns the path of the executable name or stops the test.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "tool %q not found on PATH (%v); .ci/run installs it with apt", name, err)
	}
	return p
}

// Corpus returns the shared corpus directory (../shared/corpus beside the
// module root) or stops the test.
func Corpus(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		Unavailable(t, "shared corpus: %v", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir := filepath.Join(d, "..", "shared", "corpus")
			if _, err := os.Stat(filepath.Join(dir, "MANIFEST.md")); err != nil {
				Unavailable(t, "shared corpus: %v", err)
			}
			return dir
		}
		if filepath.Dir(d) == d {
			Unavailable(t, "shared corpus: no go.mod above %s", wd)
			return ""
		}
	}
}
