// Package keywords is the offline "builtin/keywords" tagger: it extracts
// key phrases from the document text itself, so it needs no network, no
// API key and no model files.
//
// # Method
//
// Scoring follows YAKE (Campos et al., "YAKE! Keyword extraction from
// single documents using multiple local features", Information Sciences
// 509, 2020), which works on one document without a background corpus:
//
//  1. The text is cut into sentences (at . ! ? and blank lines) and each
//     sentence into segments at line breaks and punctuation, so that no
//     phrase spans a heading and the body, or a table cell and the next.
//  2. Every word that is not a stop word gets five statistics: casing (how
//     often it is capitalised or an acronym away from a sentence start),
//     position (the median index of the sentences it occurs in, early
//     words weigh more), frequency (relative to the mean and deviation of
//     all words), relatedness (words seen next to many different words
//     are function-like and weigh less) and dispersion (the share of
//     sentences it occurs in). They combine into S(w), lower is better:
//     S = rel*pos / (case + freq/rel + disp/rel).
//  3. Candidates are n-grams of 1 to 3 words inside one segment that
//     neither start nor end with a stop word or a number; "of" may join
//     them ("ministry of jal shakti") at a penalty, other stop words end
//     the phrase. A candidate's
//     score is prod S(w) / (count * (1 + sum S(w))), so phrases that recur
//     verbatim and consist of strong words rank first.
//  4. Candidates are ranked (ties by first position, then text) and run
//     through tagging.Normalize with the exclusions. A candidate inside a
//     chosen tag ("jeevan mission" after "jal jeevan mission") or around
//     one is skipped; one that overlaps a chosen tag by two words
//     ("project public license" after "latex project public") is merged
//     into the longer phrase of the text when that phrase is at least as
//     frequent and still a valid tag, and skipped otherwise.
//
// The output is deterministic for a given input.
package keywords

import (
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/tagstream/tagstream/internal/tagging"
)

// Model is the model name under which jobs select this tagger.
const Model = "builtin/keywords"

// maxGram is the longest candidate phrase, in words other than inner
// connectors, so that "department of drinking water" is one candidate.
const maxGram = 3

// connectorPenalty multiplies the score of a phrase per inner stop word.
const connectorPenalty = 4.0

// Extract returns up to n tags extracted from text, normalised with
// tagging.Normalize and the exclusions.
//
// Tags are English-shaped: Devanagari is transliterated (see ExtractWith).
func Extract(text string, n int, exclusions []string) []string {
	tags, _ := ExtractWith(text, n, exclusions, Options{})
	return tags
}

func extract(text string, n int, exclusions []string, anyScript bool) []string {
	normalize := func(raw []string) []string {
		return tagging.NormalizeWith(raw, exclusions, 0, tagging.Options{AnyScript: anyScript})
	}
	if n <= 0 {
		return nil
	}
	doc := tokenize(text)
	stats := termStats(doc)
	cands := candidates(doc, stats)
	ranked := make([]string, len(cands))
	for i, c := range cands {
		ranked[i] = c.text
	}
	// Normalise before picking: the rules drop many candidates, and the
	// containment checks must compare canonical forms. Only the head of
	// the ranking is normalised at first, as that is the costly part on
	// long texts; the rest only when the head did not yield n tags.
	segments := segmentTexts(doc)
	if head := 12 * n; len(ranked) > head {
		if tags := pick(normalize(ranked[:head]), n, segments, anyScript); len(tags) == n {
			return tags
		}
	}
	return pick(normalize(ranked), n, segments, anyScript)
}

// pick takes tags in rank order. Three-word windows cut longer names
// into overlapping pieces ("latex project public", "project public
// license"), so a candidate that overlaps a chosen tag by two words is
// merged with it when the merged phrase is at least as frequent in the
// text and still a valid tag; otherwise it is skipped. Candidates inside a chosen tag, or containing one, are
// skipped too: they add no new subject.
func pick(tags []string, n int, segments []string, anyScript bool) []string {
	var out []string
next:
	for _, tag := range tags {
		if len(out) == n {
			break
		}
		for i, c := range out {
			if containsPhrase(c, tag) || containsPhrase(tag, c) {
				continue next
			}
			m, overlap := merge(c, tag)
			if m == "" || occurrences(m, segments) == 0 {
				// Independent phrases that merely share a word.
				continue
			}
			// tag is a fragment of a longer phrase around c ("national
			// jal" of "national jal jeevan mission"). Grow c into it only
			// when the overlap is real (two words) and the longer phrase
			// is the usual form: "national jal jeevan mission" once must
			// not replace "jal jeevan mission" seen twice.
			if overlap >= 2 && occurrences(m, segments) >= occurrences(c, segments) {
				if norm := tagging.NormalizeWith([]string{m}, nil, 1, tagging.Options{AnyScript: anyScript}); len(norm) == 1 && !has(out, norm[0]) {
					out[i] = norm[0]
				}
			}
			continue next
		}
		out = append(out, tag)
	}
	return out
}

// merge joins a and b when the end of one is the start of the other,
// overlapping by words that are not all stop words, and reports the
// overlap in words.
func merge(a, b string) (string, int) {
	aw, bw := strings.Fields(a), strings.Fields(b)
	try := func(x, y []string) (string, int) {
		for k := min(len(x), len(y)) - 1; k >= 1; k-- {
			if slices.Equal(x[len(x)-k:], y[:k]) && !allStop(y[:k]) {
				return strings.Join(append(slices.Clone(x), y[k:]...), " "), k
			}
		}
		return "", 0
	}
	if m, k := try(aw, bw); m != "" {
		return m, k
	}
	return try(bw, aw)
}

func allStop(words []string) bool {
	for _, w := range words {
		if !stopWords[w] {
			return false
		}
	}
	return true
}

func occurrences(phrase string, segments []string) int {
	n := 0
	for _, s := range segments {
		n += strings.Count(" "+s+" ", " "+phrase+" ")
	}
	return n
}

func has(list []string, v string) bool {
	return slices.Contains(list, v)
}

// containsPhrase reports whether inner occurs in outer as whole words.
func containsPhrase(outer, inner string) bool {
	return strings.Contains(" "+outer+" ", " "+inner+" ")
}

var tagForm = strings.NewReplacer("-", " ", ".", " ", "'", "", "’", "")

// segmentTexts returns each segment's words in the canonical tag form
// (hyphens and dots as spaces, no apostrophes), for occurs.
func segmentTexts(d document) []string {
	var out []string
	var b strings.Builder
	for i, t := range d.tokens {
		if i > 0 && t.segment != d.tokens[i-1].segment {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		w := tagForm.Replace(t.lower)
		b.WriteString(strings.Join(strings.Fields(w), " "))
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// token is one word occurrence.
type token struct {
	lower    string
	stop     bool
	number   bool // no letters at all
	upper    bool // capitalised or an acronym, and not sentence-initial
	sentence int
	segment  int
}

type document struct {
	tokens    []token
	sentences int
}

// tokenize splits text into words, keeping "-" and "'" inside words
// ("nagpur-wardha", "women's") and numbering sentences and segments.
func tokenize(text string) document {
	var d document
	commands := controlWords(text)
	sentence, segment := 0, 0
	sentenceStart := true
	var word []rune
	flush := func() {
		if len(word) == 0 {
			return
		}
		w := strings.Trim(string(word), "-'’")
		word = word[:0]
		if w == "" {
			return
		}
		lower := strings.ToLower(w)
		t := token{lower: lower, stop: stopWords[lower] || junk(lower) || commands[lower], sentence: sentence, segment: segment, number: !strings.ContainsFunc(w, unicode.IsLetter)}
		r := []rune(w)
		if !sentenceStart && unicode.IsUpper(r[0]) {
			t.upper = true
		}
		// Acronyms count wherever they stand.
		if len(r) > 1 && strings.ToUpper(w) == w && strings.ContainsFunc(w, unicode.IsLetter) {
			t.upper = true
		}
		sentenceStart = false
		d.tokens = append(d.tokens, t)
	}
	rs := []rune(text)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r):
			word = append(word, r)
		case (r == '-' || r == '\'' || r == '’' || r == '.') && len(word) > 0 && i+1 < len(rs) &&
			(unicode.IsLetter(rs[i+1]) || unicode.IsDigit(rs[i+1])) && (r != '.' || unicode.IsDigit(word[len(word)-1])):
			// Inner hyphens and apostrophes, and decimal points ("0.01").
			word = append(word, r)
		case r == ' ' || r == '\t' || r == '\u00a0':
			flush()
		default:
			flush()
			segment++
			if r == '.' || r == '!' || r == '?' || r == '।' || r == '॥' || (r == '\n' && i+1 < len(rs) && rs[i+1] == '\n') {
				sentence++
				sentenceStart = true
			}
		}
	}
	flush()
	d.sentences = sentence + 1
	return d
}

// stat holds the YAKE features' raw counts for one word.
type stat struct {
	tf, tfUpper   int
	sentences     []int // sentence index per occurrence, ascending
	left, right   map[string]int
	leftN, rightN int
	score         float64
}

func termStats(d document) map[string]*stat {
	stats := map[string]*stat{}
	for i, t := range d.tokens {
		if t.stop || t.number || len(t.lower) < 2 {
			continue
		}
		s := stats[t.lower]
		if s == nil {
			s = &stat{left: map[string]int{}, right: map[string]int{}}
			stats[t.lower] = s
		}
		s.tf++
		if t.upper {
			s.tfUpper++
		}
		s.sentences = append(s.sentences, t.sentence)
		if i > 0 && d.tokens[i-1].segment == t.segment {
			s.left[d.tokens[i-1].lower]++
			s.leftN++
		}
		if i+1 < len(d.tokens) && d.tokens[i+1].segment == t.segment {
			s.right[d.tokens[i+1].lower]++
			s.rightN++
		}
	}
	if len(stats) == 0 {
		return stats
	}
	var sum, sumSq float64
	maxTF := 0
	for _, s := range stats {
		sum += float64(s.tf)
		sumSq += float64(s.tf * s.tf)
		maxTF = max(maxTF, s.tf)
	}
	mean := sum / float64(len(stats))
	std := math.Sqrt(max(sumSq/float64(len(stats))-mean*mean, 0))
	for _, s := range stats {
		tf := float64(s.tf)
		casing := float64(s.tfUpper) / (1 + math.Log(tf))
		position := math.Log(math.Log(3 + median(s.sentences)))
		freq := tf / (mean + std)
		rel := 1 + (ratio(len(s.left), s.leftN)+ratio(len(s.right), s.rightN))*tf/float64(maxTF)
		disp := float64(distinct(s.sentences)) / float64(d.sentences)
		s.score = rel * position / (casing + freq/rel + disp/rel)
	}
	return stats
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// median of an ascending slice.
func median(v []int) float64 {
	n := len(v)
	if n%2 == 1 {
		return float64(v[n/2])
	}
	return float64(v[n/2-1]+v[n/2]) / 2
}

func distinct(v []int) int {
	n := 0
	for i := range v {
		if i == 0 || v[i] != v[i-1] {
			n++
		}
	}
	return n
}

type candidate struct {
	text  string
	first int // token index of the first occurrence
	count int
	score float64
}

// candidates scores every n-gram and returns them best first.
func candidates(d document, stats map[string]*stat) []candidate {
	byText := map[string]*candidate{}
	var words []string
	for i := range d.tokens {
		words = words[:0]
		content := 0
		for j := i; j < len(d.tokens) && content < maxGram; j++ {
			t := d.tokens[j]
			if t.segment != d.tokens[i].segment {
				break
			}
			words = append(words, t.lower)
			if t.stop && !connectors[t.lower] {
				break
			}
			if !t.stop {
				content++
			}
			if d.tokens[i].stop || d.tokens[i].number || t.stop || t.number || stats[t.lower] == nil || stats[d.tokens[i].lower] == nil {
				continue
			}
			key := strings.Join(words, " ")
			c := byText[key]
			if c == nil {
				c = &candidate{text: key, first: i}
				byText[key] = c
			}
			c.count++
		}
	}
	out := make([]candidate, 0, len(byText))
	for _, c := range byText {
		prod, sum := 1.0, 0.0
		for _, w := range strings.Fields(c.text) {
			if s := stats[w]; s != nil {
				prod *= s.score
				sum += s.score
			} else if stopWords[w] {
				// YAKE weighs inner stop words by how often the pair
				// occurs; a flat penalty keeps "ministry of jal" from
				// beating the name itself.
				prod *= connectorPenalty
			}
		}
		c.score = prod / (float64(c.count) * (1 + sum))
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.score != b.score {
			return a.score < b.score
		}
		if a.first != b.first {
			return a.first < b.first
		}
		return a.text < b.text
	})
	return out
}
