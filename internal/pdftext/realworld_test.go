package pdftext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestRealWorldRecall is the real-world benchmark, opt-in because the corpus
// is fetched, not committed:
//
//	scripts/realworld-corpus.sh data/realworld
//	PDFTEXT_REALWORLD=$PWD/data/realworld go test -count=1 -v -run TestRealWorldRecall ./internal/pdftext
//
// For every PDF it compares our text of the first 3 pages with
// `pdftotext -l 3` by word recall, and it fails only on what must never
// happen (a panic); the figures are a report for BENCHMARKS.md.
// PDFTEXT_REALWORLD_TSV=path also writes one line per file.
func TestRealWorldRecall(t *testing.T) {
	dir := os.Getenv("PDFTEXT_REALWORLD")
	if dir == "" {
		t.Skip("set PDFTEXT_REALWORLD to a directory made by scripts/realworld-corpus.sh")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if len(files) == 0 {
		t.Fatalf("no PDFs in %s", dir)
	}
	var panics []string
	hook := func(stack []byte) { panics = append(panics, string(stack)) }
	panicHook.Store(&hook)
	defer panicHook.Store(nil)

	var rows []realRow
	for _, p := range files {
		rows = append(rows, realWorldFile(p, &panics))
	}
	s := summarise(rows)
	t.Log(s.String())
	sort.Slice(rows, func(i, j int) bool { return rows[i].recall < rows[j].recall })
	for _, r := range rows {
		if r.class == "text" && r.recall < minRecall || r.class == "error" {
			t.Logf("%-70s %-6s recall %.3f words %5d %s", r.name, r.class, r.recall, r.words, r.detail)
		}
	}
	if out := os.Getenv("PDFTEXT_REALWORLD_TSV"); out != "" {
		var b strings.Builder
		b.WriteString("file\tclass\trecall\twords\tdetail\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "%s\t%s\t%.4f\t%d\t%s\n", r.name, r.class, r.recall, r.words, r.detail)
		}
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	if len(panics) > 0 {
		t.Errorf("%d panics recovered; first:\n%s", len(panics), panics[0])
	}
}

// realRow is one file's outcome. class is one of:
// text (both read it and pdftotext found words), notext (pdftotext finds
// no words), unreadable (pdftotext fails, e.g. a user password),
// toolarge (over our MaxBytes, refused by design), error (we failed where
// pdftotext read text).
type realRow struct {
	name, class, detail string
	recall              float64
	words               int
}

func realWorldFile(p string, panics *[]string) realRow {
	row := realRow{name: filepath.Base(p)}
	var stderr bytes.Buffer
	cmd := exec.Command("pdftotext", "-l", "3", "-enc", "UTF-8", p, "-")
	cmd.Stderr = &stderr
	ref, refErr := cmd.Output()
	before := len(*panics)
	res, err := ExtractFile(context.Background(), p, Options{MaxPages: 3})
	if len(*panics) > before {
		row.detail = "PANIC "
	}
	switch {
	case refErr != nil:
		row.class, row.detail = "unreadable", row.detail+fmt.Sprintf("pdftotext: %v; ours: %v", refErr, err)
	case len(words(string(ref))) == 0:
		row.class, row.detail = "notext", row.detail+fmt.Sprintf("ours: %v", err)
	case errors.Is(err, ErrTooLarge):
		row.class, row.detail = "toolarge", err.Error()
	case err != nil && !errors.Is(err, ErrScanned):
		row.class, row.detail = "error", row.detail+err.Error()
		_, row.words, _ = recall("", string(ref))
	default:
		text := ""
		if res != nil {
			text = res.Text
		}
		if err != nil {
			row.detail = err.Error()
		}
		row.class = "text"
		row.recall, row.words, _ = recall(text, string(ref))
		if err != nil && row.recall == 0 {
			row.class = "error"
		}
	}
	return row
}

type realSummary struct {
	files, text, notext, unreadable, toolarge, errors, good int
	mean                                                    float64
	bySource                                                map[string][2]float64 // sum of recall, count
}

func summarise(rows []realRow) realSummary {
	s := realSummary{files: len(rows), bySource: map[string][2]float64{}}
	for _, r := range rows {
		switch r.class {
		case "notext":
			s.notext++
			continue
		case "unreadable":
			s.unreadable++
			continue
		case "toolarge":
			s.toolarge++
			continue
		case "error":
			s.errors++
		}
		// Errors count as recall 0 among the files that have text.
		s.text++
		s.mean += r.recall
		if r.recall >= minRecall {
			s.good++
		}
		src, _, _ := strings.Cut(r.name, "__")
		v := s.bySource[src]
		s.bySource[src] = [2]float64{v[0] + r.recall, v[1] + 1}
	}
	if s.text > 0 {
		s.mean /= float64(s.text)
	}
	return s
}

func (s realSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "files %d: with text %d, no text %d, unreadable by pdftotext %d, over MaxBytes %d\n",
		s.files, s.text, s.notext, s.unreadable, s.toolarge)
	fmt.Fprintf(&b, "of the %d files with text: mean recall %.4f, >= %.2f: %d (%.1f%%), errors %d\n",
		s.text, s.mean, minRecall, s.good, 100*float64(s.good)/float64(max(s.text, 1)), s.errors)
	srcs := make([]string, 0, len(s.bySource))
	for k := range s.bySource {
		srcs = append(srcs, k)
	}
	sort.Strings(srcs)
	for _, k := range srcs {
		v := s.bySource[k]
		fmt.Fprintf(&b, "  %-60s files %3.0f mean recall %.4f\n", k, v[1], v[0]/v[1])
	}
	return b.String()
}
