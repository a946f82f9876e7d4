package keywords

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/tagging"
	"github.com/tagstream/tagstream/internal/testenv"
)

func readCorpus(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(testenv.CorpusFile(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// checkShape asserts the rules every tag must satisfy.
func checkShape(t *testing.T, tags []string) {
	t.Helper()
	if len(tags) == 0 {
		t.Fatal("no tags")
	}
	for _, tag := range tags {
		if tag != strings.ToLower(tag) {
			t.Errorf("tag %q not lowercase", tag)
		}
		if n := len(strings.Fields(tag)); n < 1 || n > 5 {
			t.Errorf("tag %q has %d words", tag, n)
		}
		if tagging.IsGeneric(tag) {
			t.Errorf("tag %q is generic", tag)
		}
		if got := tagging.Normalize([]string{tag}, nil, 0); len(got) != 1 || got[0] != tag {
			t.Errorf("tag %q is not in normal form (%q)", tag, got)
		}
	}
}

func TestExtractWaterCircular(t *testing.T) {
	tags := Extract(readCorpus(t, "circular-water.pdftotext.txt"), 10, nil)
	t.Logf("tags: %q", tags)
	checkShape(t, tags)
	if !slices.Contains(tags, "water quality") && !slices.Contains(tags, "jal jeevan mission") {
		t.Errorf("tags %q lack both \"water quality\" and \"jal jeevan mission\"", tags)
	}
}

func TestExtractOtherCorpusFiles(t *testing.T) {
	for _, name := range []string{"tender-notice.pdftotext.txt", "texlive-lppl.pdftotext.txt", "texlive-cyrguide.pdftotext.txt"} {
		t.Run(name, func(t *testing.T) {
			tags := Extract(readCorpus(t, name), 8, nil)
			t.Logf("tags: %q", tags)
			checkShape(t, tags)
			if len(tags) != 8 {
				t.Errorf("%d tags, want 8", len(tags))
			}
		})
	}
}

func TestExtractExclusions(t *testing.T) {
	text := readCorpus(t, "circular-water.pdftotext.txt")
	excl := []string{"jal jeevan", "water"}
	tags := Extract(text, 10, excl)
	t.Logf("tags: %q", tags)
	checkShape(t, tags)
	for _, tag := range tags {
		words := strings.Fields(tag)
		hit := 0
		for _, w := range words {
			if w == "jal" || w == "jeevan" || w == "water" {
				hit++
			}
		}
		if 2*hit >= len(words) {
			t.Errorf("tag %q kept although exclusions cover half its words", tag)
		}
	}
	if len(tags) != 10 {
		t.Errorf("%d tags, want 10: exclusions must not starve the output", len(tags))
	}
}

func TestExtractDeterministic(t *testing.T) {
	text := readCorpus(t, "tender-notice.pdftotext.txt")
	first := Extract(text, 10, nil)
	for range 20 {
		if got := Extract(text, 10, nil); !reflect.DeepEqual(got, first) {
			t.Fatalf("output changed between runs:\n%q\n%q", first, got)
		}
	}
}

func TestExtractEdgeCases(t *testing.T) {
	if got := Extract("", 5, nil); len(got) != 0 {
		t.Errorf("empty text gave %q", got)
	}
	if got := Extract("Water quality and water supply.", 0, nil); got != nil {
		t.Errorf("n=0 gave %q", got)
	}
	// Devanagari is transliterated; other non-Latin text yields no ASCII
	// tags rather than garbage (ExtractWith says why).
	if got := Extract("जल जीवन मिशन के अंतर्गत जल गुणवत्ता", 5, nil); !reflect.DeepEqual(got, []string{"jal jivan misan", "jal gunavatta"}) {
		t.Errorf("Devanagari gave %q", got)
	}
	if got := Extract("Министерство образования и науки", 5, nil); len(got) != 0 {
		t.Errorf("Cyrillic gave %q", got)
	}
	got := Extract("The Jal Jeevan Mission funds water quality labs. Water quality labs test arsenic.", 3, nil)
	if len(got) == 0 || len(got) > 3 {
		t.Errorf("got %q", got)
	}
}

func TestPickMergesAndSkipsFragments(t *testing.T) {
	segments := []string{"the latex project public license", "latex project public license", "national jal jeevan mission", "jal jeevan mission", "jal jeevan mission"}
	got := pick([]string{"latex project public", "project public license", "jal jeevan mission", "national jal", "jeevan mission", "public license terms"}, 10, segments, false)
	want := []string{"latex project public license", "jal jeevan mission", "public license terms"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pick = %q, want %q", got, want)
	}
}

func BenchmarkExtractWaterCircular(b *testing.B) {
	text := readCorpus(b, "circular-water.pdftotext.txt")
	b.ReportAllocs()
	for b.Loop() {
		Extract(text, 10, nil)
	}
}
