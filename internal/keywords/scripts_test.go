package keywords

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestHindiCircular: the Hindi circular that used to give "no usable
// tags" yields transliterated ASCII tags by default and Devanagari tags
// with KeepScript, without Hindi function words at their edges.
func TestHindiCircular(t *testing.T) {
	text := readCorpus(t, "circular-hindi.pdftotext.txt")
	en, err := ExtractWith(text, 8, nil, Options{})
	t.Logf("en: %q", en)
	if err != nil || len(en) < 6 {
		t.Fatalf("en: %q, %v", en, err)
	}
	checkShape(t, en)
	for _, tag := range en {
		if strings.ContainsFunc(tag, func(r rune) bool { return r > unicode.MaxASCII }) {
			t.Errorf("tag %q is not ASCII", tag)
		}
	}
	if !slices.ContainsFunc(en, func(s string) bool {
		return strings.Contains(s, "madhyahn") || strings.Contains(s, "bhojan") || strings.Contains(s, "posan")
	}) {
		t.Errorf("en tags %q name neither the mid-day meal nor the POSHAN scheme", en)
	}

	orig, err := ExtractWith(text, 8, nil, Options{KeepScript: true})
	t.Logf("original: %q", orig)
	if err != nil || len(orig) < 6 {
		t.Fatalf("original: %q, %v", orig, err)
	}
	for _, tag := range orig {
		if !strings.ContainsFunc(tag, isDevanagari) {
			t.Errorf("tag %q has no Devanagari", tag)
		}
		words := strings.Fields(tag)
		if stopWords[words[0]] || stopWords[words[len(words)-1]] {
			t.Errorf("tag %q starts or ends with a stop word", tag)
		}
	}
	if !slices.ContainsFunc(orig, func(s string) bool { return strings.Contains(s, "मध्याह्न भोजन") }) {
		t.Errorf("original tags %q lack मध्याह्न भोजन", orig)
	}
}

// TestDandaEndsSentences: a phrase never runs across a danda.
func TestDandaEndsSentences(t *testing.T) {
	d := tokenize("जल जीवन मिशन। गुणवत्ता निगरानी")
	if d.sentences != 2 || d.tokens[2].sentence == d.tokens[3].sentence {
		t.Fatalf("sentences %d, tokens %+v", d.sentences, d.tokens)
	}
}

func TestOtherScriptInEnglishFailsPlainly(t *testing.T) {
	text := strings.Repeat("Министерство образования и науки объявляет конкурс на гранты для университетов. ", 5)
	if _, err := ExtractWith(text, 5, nil, Options{}); err == nil || !strings.Contains(err.Error(), "Cyrillic") || !strings.Contains(err.Error(), "tag_language") {
		t.Fatalf("err = %v", err)
	}
	tags, err := ExtractWith(text, 5, nil, Options{KeepScript: true})
	if err != nil || len(tags) == 0 || !strings.ContainsFunc(tags[0], func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) {
		t.Fatalf("original: %q %v", tags, err)
	}
}

// TestTeXDocumentsNoJunk: LaTeX package documentation gives no TeX
// control words, option values, short fragments or tokens with digits.
func TestTeXDocumentsNoJunk(t *testing.T) {
	bad := map[string]bool{}
	for _, w := range texWords {
		bad[w] = true
	}
	if got := controlWords(`Use \citep{x} or \begin{document}; \@tempa`); !got["citep"] || !got["begin"] || !got["@tempa"] {
		t.Errorf("controlWords = %v", got)
	}
	for _, name := range []string{"texlive-amsxtra", "texlive-cyrguide", "texlive-ifthen", "texlive-lppl", "texlive-ltnews06", "texlive-natnotes", "texlive-url"} {
		text := readCorpus(t, name+".pdftotext.txt")
		for w := range controlWords(text) {
			bad[w] = true
		}
		tags := Extract(text, 10, nil)
		t.Logf("%s: %q", name, tags)
		if len(tags) == 0 {
			t.Errorf("%s: no tags", name)
		}
		for _, tag := range tags {
			for _, w := range strings.Fields(tag) {
				if bad[w] || junk(w) {
					t.Errorf("%s: junk word %q in tag %q", name, w, tag)
				}
			}
		}
	}
}
