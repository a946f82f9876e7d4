package main

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
)

// The CLI's --exclude-file and the console's parse endpoint read the same
// fixture to the same words (one parser), and the job records them.
func TestExcludeFileCLIAndConsoleAgree(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	clientEnv(t)
	u := e.register("ex@example.com")
	login(t, e.url, "ex@example.com")
	const fixture = "../../internal/tagging/testdata/exclusions.txt"
	raw, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	console := e.mustCall("POST", "/api/exclusions/parse", u.token, map[string]any{"text": string(raw)}, 200)["words"].([]any)
	want := []string{"water", "sanitation", "Government of India", "C#", "tender", "annual report"}
	if len(console) != len(want) {
		t.Fatalf("console words %v, want %v", console, want)
	}
	for i, w := range console {
		if w != want[i] {
			t.Fatalf("console words %v, want %v", console, want)
		}
	}

	csv := clientFile(t, "docs.csv", "file_path,title\na.pdf,A\n")
	r := ok(t, "batch", "start", "--csv", csv, "--model", "builtin/keywords", "--exclude-file", fixture, "--exclude", "extra", "--json")
	var started struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &started); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, env := range e.history(started.JobID) {
		if env.Type == events.TypeJobStarted {
			var js events.JobStarted
			_ = json.Unmarshal(env.Data, &js)
			got = js.Config.ExclusionWords
		}
	}
	lower := []string{"extra"}
	for _, w := range want {
		lower = append(lower, strings.ToLower(w))
	}
	if !reflect.DeepEqual(got, lower) {
		t.Fatalf("job exclusion words %q, want %q", got, lower)
	}

	// Errors name the line, in the CLI and in the console alike.
	bad := clientFile(t, "bad.txt", "ok\n"+strings.Repeat("x", 101)+"\n")
	failsWithOneLine(t, cli(t, "", "batch", "start", "--csv", csv, "--model", "builtin/keywords", "--exclude-file", bad), "line 2")
	st, out := e.call("POST", "/api/exclusions/parse", u.token, map[string]any{"text": "ok\n" + strings.Repeat("x", 101)})
	if st != 400 || !strings.Contains(out["detail"].(string), "line 2") || out["field"] != "text" {
		t.Fatalf("bad list: %d %v", st, out)
	}
	if st, _ := e.call("POST", "/api/exclusions/parse", "", map[string]any{"text": "a"}); st != 401 {
		t.Fatalf("no token: %d", st)
	}
}
