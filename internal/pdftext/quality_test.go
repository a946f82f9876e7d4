package pdftext

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/tagstream/tagstream/internal/testenv"
	"golang.org/x/text/unicode/norm"
)

// minRecall is the acceptance bar: the share of pdftotext's words (as a
// multiset) that our text contains, per file.
const minRecall = 0.95

// words returns the multiset of lower-cased letter/digit words. Texts are
// compared in Unicode's composed form (NFC) and combining marks belong to
// their word: pdftotext writes an accent drawn over a letter as letter plus
// combining mark ("u\u0308"), we write "ü", and both are the same text; a
// Devanagari vowel sign is part of its word, not a word break.
func words(s string) map[string]int {
	m := map[string]int{}
	s = norm.NFC.String(s)
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) }) {
		m[strings.ToLower(w)]++
	}
	return m
}

// recall returns |ours ∩ ref| / |ref| over word multisets, and the
// reference words we missed (for diagnostics).
func recall(ours, ref string) (float64, int, []string) {
	o, r := words(ours), words(ref)
	total, hit := 0, 0
	var missed []string
	for w, n := range r {
		total += n
		k := min(n, o[w])
		hit += k
		if k < n {
			missed = append(missed, w)
		}
	}
	sort.Strings(missed)
	if total == 0 {
		return 1, 0, nil
	}
	return float64(hit) / float64(total), total, missed
}

func corpusOrSkip(t testing.TB) string {
	t.Helper()
	return testenv.Corpus(t)
}

// corpusTextFiles lists corpus PDFs that have a non-empty pdftotext reference.
func corpusTextFiles(t testing.TB) []string {
	dir := corpusOrSkip(t)
	pdfs, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	var out []string
	for _, p := range pdfs {
		ref, err := os.ReadFile(strings.TrimSuffix(p, ".pdf") + ".pdftotext.txt")
		if err == nil && len(words(string(ref))) > 0 {
			out = append(out, p)
		}
	}
	return out
}

func pdfcpuTestdata(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/pdfcpu/pdfcpu").Output()
	if err != nil {
		testenv.Unavailable(t, "cannot locate the pdfcpu module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
	if _, err := os.Stat(dir); err != nil {
		testenv.Unavailable(t, "pdfcpu testdata not found: %v", err)
	}
	return dir
}

type recallStat struct {
	name   string
	recall float64
	words  int
}

func logRecallSummary(t *testing.T, stats []recallStat) {
	if len(stats) == 0 {
		return
	}
	minR, sum := 1.0, 0.0
	for _, s := range stats {
		minR = min(minR, s.recall)
		sum += s.recall
	}
	t.Logf("recall over %d files: min %.4f, mean %.4f", len(stats), minR, sum/float64(len(stats)))
}

func checkRecall(t *testing.T, name, ours, ref string) recallStat {
	t.Helper()
	r, total, missed := recall(ours, ref)
	t.Logf("%-45s recall %.4f (%d ref words)", name, r, total)
	if r < minRecall {
		if len(missed) > 40 {
			missed = missed[:40]
		}
		t.Errorf("%s: recall %.4f < %.2f; missed e.g. %q", name, r, minRecall, missed)
	}
	return recallStat{name, r, total}
}

func TestRecallCorpus(t *testing.T) {
	files := corpusTextFiles(t)
	if len(files) == 0 {
		t.Fatal("no corpus files with reference text")
	}
	var stats []recallStat
	for _, p := range files {
		ref, _ := os.ReadFile(strings.TrimSuffix(p, ".pdf") + ".pdftotext.txt")
		res, err := ExtractFile(context.Background(), p, Options{MaxPages: 3})
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		stats = append(stats, checkRecall(t, filepath.Base(p), res.Text, string(ref)))
	}
	logRecallSummary(t, stats)
}

func TestRecallPdfcpuTestdata(t *testing.T) {
	testenv.RequireTool(t, "pdftotext")
	dir := pdfcpuTestdata(t)
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".pdf") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no PDFs in pdfcpu testdata")
	}
	var stats []recallStat
	for _, p := range files {
		name, _ := filepath.Rel(dir, p)
		var stderr bytes.Buffer
		cmd := exec.Command("pdftotext", "-l", "3", "-enc", "UTF-8", p, "-")
		cmd.Stderr = &stderr
		ref, err := cmd.Output()
		if err != nil {
			t.Logf("%-45s excluded: pdftotext cannot read it: %v %s", name, err, strings.TrimSpace(stderr.String()))
			continue
		}
		if len(words(string(ref))) == 0 {
			t.Logf("%-45s excluded: pdftotext finds no text", name)
			continue
		}
		res, err := ExtractFile(context.Background(), p, Options{MaxPages: 3})
		if errors.Is(err, ErrPasswordProtected) {
			t.Logf("%-45s excluded: encrypted with a user password", name)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		stats = append(stats, checkRecall(t, name, res.Text, string(ref)))
	}
	logRecallSummary(t, stats)
}
