package tagging

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseExclusionListFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/exclusions.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseExclusionList(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"water", "sanitation", "Government of India", "C#", "tender", "annual report"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParseExclusionListErrorsNameTheLine(t *testing.T) {
	for _, c := range []struct {
		text string
		line int
	}{
		{"ok\n" + strings.Repeat("x", MaxExclusionTermBytes+1), 2},
		{"ok\nbad \xff byte", 2},
		{"a\n\nb\tc\x00d", 3},
		{strings.Repeat("w,", 0) + manyTerms(MaxExclusionTerms+1), 1},
		{strings.Repeat(" ", MaxExclusionListBytes+1), 0},
	} {
		_, err := ParseExclusionList(c.text)
		var le *ListError
		if !errors.As(err, &le) || le.Line != c.line {
			t.Errorf("%.20q: err %v, want one at line %d", c.text, err, c.line)
		}
	}
	if got, err := ParseExclusionList(manyTerms(MaxExclusionTerms)); err != nil || len(got) != MaxExclusionTerms {
		t.Errorf("exactly the budget: %d terms, %v", len(got), err)
	}
}

func manyTerms(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("term")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('a' + i/26%26)))
		b.WriteString(string(rune('a' + i/676)))
		b.WriteString(",")
	}
	return b.String()
}

func FuzzParseExclusionList(f *testing.F) {
	if raw, err := os.ReadFile("testdata/exclusions.txt"); err == nil {
		f.Add(string(raw))
	}
	f.Add("a,b\n# c\nC# d")
	f.Fuzz(func(t *testing.T, text string) {
		words, err := ParseExclusionList(text)
		if err != nil {
			return
		}
		if len(words) > MaxExclusionTerms {
			t.Fatalf("%d terms", len(words))
		}
		for _, w := range words {
			if w == "" || len(w) > MaxExclusionTermBytes || strings.ContainsAny(w, ",\n") || w != strings.TrimSpace(w) {
				t.Fatalf("bad term %q", w)
			}
		}
	})
}
