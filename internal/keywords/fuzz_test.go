package keywords

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzTransliterate: document text is untrusted; transliteration never
// panics, keeps valid UTF-8, and leaves no Devanagari behind.
func FuzzTransliterate(f *testing.F) {
	for _, s := range []string{"भारत सरकार", "क़ानून ज़िला।", "्ं", "ंः", "Ministry मध्याह्न २०२५", "\xff\xfeक", "क़़़"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := transliterate(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q: %q", s, out)
		}
		if strings.ContainsFunc(out, isDevanagari) {
			t.Fatalf("Devanagari left in %q -> %q", s, out)
		}
		if tags, _ := ExtractWith(s, 5, nil, Options{}); len(tags) > 5 {
			t.Fatalf("%d tags", len(tags))
		}
		for _, tag := range Extract(s, 5, nil) {
			if strings.ContainsFunc(tag, func(r rune) bool { return r > unicode.MaxASCII }) {
				t.Fatalf("non-ASCII tag %q from %q", tag, s)
			}
		}
	})
}
