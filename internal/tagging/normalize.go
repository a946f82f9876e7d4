// Package tagging holds the tag clean-up rules shared by every tagger (the
// LLM client and the offline keyword extractor), so that a document gets the
// same kind of tags whichever model produced them.
package tagging

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Length limits of a tag, in bytes of its ASCII form and in words.
const (
	minChars = 2
	maxChars = 80
	maxWords = 5
)

var (
	// A leading list marker: "1. ", "2) ", "(3) ", "a) ", "iv. ", "1 - ".
	// A following space is required so that "1.5 mg" or "2025-26" survive.
	leadingNumber = regexp.MustCompile(`^(?:\(?\d{1,3}[.):\]]|\d{1,3}\s+-|\(?[a-z][.)]|\(?[ivx]{1,4}[.)])\s+`)
	// Dotted acronyms ("u.s.", "e.u.") are joined rather than split into letters.
	dottedAcronym = regexp.MustCompile(`\b(?:[a-z]\.){2,}`)
	// Only i, v and x: with l and c too, real tags like "cv" or "xl" would go.
	romanNumeral = regexp.MustCompile(`^x{0,3}(?:ix|iv|v?i{0,3})$`)
	ordinal      = regexp.MustCompile(`^\d+(?:st|nd|rd|th)$`)
)

// Normalize cleans raw tags: lowercase; strip leading numbering/bullets and
// punctuation; hyphens/underscores to spaces; ASCII letters/digits/spaces
// only; 1-5 words; 2-80 chars; no bare numbers, month names, roman numerals;
// no gibberish (vowel ratio, long consonant runs); drop a small generic-term
// list; drop exclusion words (exact match, or the exclusion words cover at
// least half of the tag's words); de-duplicate (also near duplicates that
// differ only by a plural s); keep order. Returns at most max tags (max<=0 =
// no cap).
//
// Accented Latin letters are folded to ASCII ("Müller" -> "muller"); a tag
// with letters outside Latin (Devanagari, Cyrillic, ...) is dropped, because
// downstream consumers index ASCII tags only.
func Normalize(raw []string, exclusions []string, max int) []string {
	return NormalizeWith(raw, exclusions, max, Options{})
}

// Options change Normalize's rules.
type Options struct {
	// AnyScript keeps letters of every script (job config tag_language
	// "original"): a Hindi tag stays in Devanagari. Latin accents are
	// still folded, and the same shape rules apply, with lengths counted
	// in characters; the vowel-based gibberish test only judges Latin words.
	AnyScript bool
}

// NormalizeWith is Normalize with options.
func NormalizeWith(raw []string, exclusions []string, max int, o Options) []string {
	excl := newExclusions(exclusions)
	seen := make(map[string]bool, len(raw))
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		if max > 0 && len(out) >= max {
			break
		}
		tag, ok := cleanWith(r, o.AnyScript)
		if !ok || IsGeneric(tag) || excl.excludes(tag) {
			continue
		}
		key := dedupKey(tag)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, tag)
	}
	return out
}

// clean turns one raw tag into its canonical form, or reports false when
// the tag breaks a shape rule (length, words, numbers, gibberish).
func clean(raw string) (string, bool) { return cleanWith(raw, false) }

func cleanWith(raw string, anyScript bool) (string, bool) {
	isAlnum := isASCIIAlnum
	s, ok := "", false
	if anyScript {
		isAlnum = isLetterOrDigit
		s, ok = foldLatin(strings.ToLower(raw)), true
	} else {
		s, ok = toASCII(strings.ToLower(raw))
	}
	if !ok {
		return "", false
	}
	s = dottedAcronym.ReplaceAllStringFunc(s, func(m string) string {
		return strings.ReplaceAll(m, ".", "") + " "
	})
	// Strip markers repeatedly: "- 1. foo" has two of them.
	for {
		t := strings.TrimLeftFunc(s, func(r rune) bool {
			return !isAlnum(r) && r != '('
		})
		t = leadingNumber.ReplaceAllString(t, "")
		t = strings.TrimLeftFunc(t, func(r rune) bool { return !isAlnum(r) })
		if t == s {
			break
		}
		s = t
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case isAlnum(r):
			b.WriteRune(r)
		case r == '\'' || r == '`':
			// "women's" -> "womens": a space would leave a stray "s" word.
		case r == '&':
			b.WriteString(" and ")
		default:
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	if len(words) == 0 || len(words) > maxWords {
		return "", false
	}
	tag := strings.Join(words, " ")
	if anyScript {
		tag = norm.NFC.String(tag)
	}
	if n := utf8.RuneCountInString(tag); n < minChars || n > maxChars {
		return "", false
	}
	if allDateLike(words) || allStopWords(words) {
		return "", false
	}
	for _, w := range words {
		if gibberish(w) {
			return "", false
		}
	}
	return tag, true
}

// toASCII folds accents away and rejects text with non-Latin letters; other
// non-ASCII symbols (dashes, quotes, bullets) become spaces.
func toASCII(s string) (string, bool) {
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r):
			// combining accent left by NFKD: drop it
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			return "", false
		default:
			b.WriteByte(' ')
		}
	}
	return b.String(), true
}

// foldLatin drops the accents of Latin letters only: in other scripts
// the combining marks are vowel signs and must stay ("जीवन").
func foldLatin(s string) string {
	var b strings.Builder
	latinBase := false
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r) && latinBase:
			// accent on a Latin letter: drop it
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r < 0x80:
			b.WriteRune(r)
			if !unicode.IsMark(r) {
				latinBase = r < 0x80 || unicode.Is(unicode.Latin, r)
			}
		default:
			b.WriteByte(' ')
			latinBase = false
		}
	}
	return b.String()
}

func isASCIIAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
}

func isLetterOrDigit(r rune) bool {
	return isASCIIAlnum(r) || (r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)))
}

var months = set("january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december",
	"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec")

// allDateLike reports a tag made only of numbers, months, ordinals and roman
// numerals ("2025", "march 2025", "iv"): such tags carry no subject.
func allDateLike(words []string) bool {
	for _, w := range words {
		if !isNumber(w) && !months[w] && !ordinal.MatchString(w) && !romanNumeral.MatchString(w) {
			return false
		}
	}
	return true
}

func isNumber(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return w != ""
}

// gibberish flags OCR noise and random strings. Short words are let through
// without a vowel because acronyms ("cpp", "nhai", "html") are common tags.
func gibberish(w string) bool {
	letters, vowels, run, maxRun, same, maxSame := 0, 0, 0, 0, 0, 0
	var prev rune
	for _, r := range w {
		if r == prev {
			same++
		} else {
			same = 1
		}
		prev = r
		maxSame = max(maxSame, same)
		if r >= 0x80 && unicode.IsLetter(r) {
			return false // not Latin: the vowel rules below do not apply
		}
		if r < 'a' || r > 'z' {
			run = 0
			continue
		}
		letters++
		if strings.ContainsRune("aeiouy", r) {
			vowels++
			run = 0
		} else {
			run++
			maxRun = max(maxRun, run)
		}
	}
	if maxSame >= 4 || utf8.RuneCountInString(w) > 30 || maxRun >= 6 {
		return true
	}
	if letters <= 5 {
		return false
	}
	ratio := float64(vowels) / float64(letters)
	return ratio < 0.1 || ratio > 0.85
}

// dedupKey makes near duplicates that differ only by a plural collide.
func dedupKey(tag string) string {
	words := strings.Fields(tag)
	for i, w := range words {
		words[i] = singular(w)
	}
	return strings.Join(words, " ")
}

func singular(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 3 && strings.HasSuffix(w, "s") &&
		!strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
