package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The decision is checked in a child test process, because t.Skip and
// t.Fatal end the calling test: the parent runs this binary again with
// CI set or unset and reads the verdict from its exit status and output.
func TestMissingToolFailsUnderCIAndSkipsElsewhere(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		RequireTool(t, "tagstream-no-such-tool-9f3a")
		t.Log("reached past RequireTool")
		return
	}
	run := func(ci string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingToolFailsUnderCIAndSkipsElsewhere$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("true")
	if err == nil || !strings.Contains(out, "--- FAIL") || !strings.Contains(out, "tagstream-no-such-tool-9f3a") {
		t.Fatalf("under CI=true a missing tool must fail with its name: err=%v\n%s", err, out)
	}
	out, err = run("")
	if err != nil || !strings.Contains(out, "--- SKIP") || strings.Contains(out, "reached past") {
		t.Fatalf("on a developer machine a missing tool must skip: err=%v\n%s", err, out)
	}
}

func TestPresentToolIsReturned(t *testing.T) {
	if p := RequireTool(t, "sh"); p == "" {
		t.Fatal("empty path for sh")
	}
}

func TestCorpusIsFoundFromThePackageDir(t *testing.T) {
	dir := Corpus(t)
	if _, err := os.Stat(CorpusFile(t, "circular-water.pdf")); err != nil || dir == "" {
		t.Fatalf("corpus %q: %v", dir, err)
	}
}

func TestCIReadsTheEnvironment(t *testing.T) {
	t.Setenv("CI", "true")
	if !CI() {
		t.Fatal("CI=true not seen")
	}
	t.Setenv("CI", "")
	if CI() {
		t.Fatal("empty CI seen as CI")
	}
}
