package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// documents search --csv is an export: without --limit it holds every
// match, not the table's first 50, across as many requests as the
// server's bound on one (here 25 rows) needs; with a --limit that leaves
// matches out it says so on stderr, as the table does.
func TestDocumentsSearchCSVExportsEveryMatch(t *testing.T) {
	cfg := testConfig(t)
	cfg.ExportRows = 25
	e := startEnv(t, cfg, &fakeTagger{})
	clientEnv(t)
	u := e.register("ana@example.com")
	login(t, e.url, u.email)
	var rows strings.Builder
	rows.WriteString("file_path,title\n")
	for i := range 60 {
		fmt.Fprintf(&rows, "docs/%d.pdf,Railway circular %d\n", i, i)
	}
	ok(t, "batch", "start", "--csv", clientFile(t, "rail.csv", rows.String()), "--model", "builtin/keywords", "--wait")

	records := func(path string) [][]string {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	all := filepath.Join(t.TempDir(), "all.csv")
	r := ok(t, "documents", "search", "--q", "railway", "--csv", "-o", all)
	recs := records(all)
	if len(recs) != 61 || recs[0][0] != "job_id" {
		t.Fatalf("export without --limit: %d records, want the header and all 60 documents", len(recs))
	}
	rowsSeen := map[string]bool{}
	for _, r := range recs[1:] {
		rowsSeen[r[1]] = true
	}
	if len(rowsSeen) != 60 {
		t.Fatalf("the parts repeat or skip documents: %d distinct rows", len(rowsSeen))
	}
	if strings.Contains(r.stderr, "more documents match") {
		t.Fatalf("a complete export says it is not: %s", r.stderr)
	}

	some := filepath.Join(t.TempDir(), "some.csv")
	r = ok(t, "documents", "search", "--q", "railway", "--csv", "--limit", "30", "-o", some)
	if recs := records(some); len(recs) != 31 {
		t.Fatalf("export with --limit 30: %d records", len(recs))
	}
	if !strings.Contains(r.stderr, "more documents match than --limit 30") {
		t.Fatalf("an export cut by --limit does not say so: %q", r.stderr)
	}
	if r := ok(t, "documents", "search", "--q", "railway"); !strings.Contains(r.stdout, "more documents match") {
		t.Fatalf("the table's first 50 of 60 do not say more match: %s", r.stdout)
	}
}
