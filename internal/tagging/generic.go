package tagging

import "strings"

// genericTerms are words that describe any document and so tell a reader
// nothing about this one. Kept deliberately small: a longer list starts
// eating real subjects.
var genericTerms = set(
	"document", "documents", "doc", "docs", "information", "info", "data",
	"report", "reports", "pdf", "file", "files", "page", "pages", "contact",
	"contacts", "email", "emails", "e mail", "phone", "telephone", "address",
	"details", "detail", "general", "misc", "miscellaneous", "other", "others",
	"various", "text", "content", "contents", "untitled", "unknown", "none",
	"n a", "na", "etc", "item", "items", "note", "notes", "summary", "overview",
	"introduction", "conclusion", "section", "chapter", "title", "subject",
	"tag", "tags", "keyword", "keywords", "example", "sample", "name", "date",
	"number", "version", "attachment", "annex", "appendix", "index", "table",
	"figure", "copy", "contact information", "contact details", "general information",
)

// stopWords are function words; a tag made only of them ("the", "of the")
// is noise from a broken split, never a subject.
var stopWords = set(
	"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "by", "with",
	"at", "from", "as", "is", "are", "be", "this", "that", "these", "those",
	"it", "its", "not", "no", "all", "any", "some", "into", "per", "via",
	// Hindi postpositions and the commonest verbs, for tags kept in
	// the document's script.
	"का", "की", "के", "को", "में", "से", "पर", "और", "या", "है", "हैं", "था", "थे",
	"यह", "वह", "इस", "उस", "एक", "तथा", "द्वारा", "लिए",
)

// IsGeneric reports whether tag is a generic term (see genericTerms) once
// lowercased and trimmed, or a phrase made only of generic and function
// words such as "general details" or "the document". Plural forms count.
func IsGeneric(tag string) bool {
	t := strings.Join(strings.Fields(strings.ToLower(tag)), " ")
	if t == "" {
		return false
	}
	if genericTerms[t] || genericTerms[dedupKey(t)] {
		return true
	}
	words := strings.Fields(t)
	anyGeneric := false
	for _, w := range words {
		switch {
		case genericTerms[w] || genericTerms[singular(w)]:
			anyGeneric = true
		case stopWords[w]:
		default:
			return false
		}
	}
	return anyGeneric
}

func allStopWords(words []string) bool {
	for _, w := range words {
		if !stopWords[w] {
			return false
		}
	}
	return true
}

// exclusions holds the caller's words to avoid, in the same canonical form
// as tags, both as whole phrases and as single words.
type exclusions struct {
	phrases map[string]bool
	words   map[string]bool
}

// newExclusions accepts entries that are themselves comma or newline
// separated lists, because users paste "water, sanitation" into one field.
func newExclusions(raw []string) exclusions {
	e := exclusions{phrases: map[string]bool{}, words: map[string]bool{}}
	for _, r := range raw {
		for _, part := range strings.FieldsFunc(r, func(c rune) bool {
			return c == ',' || c == ';' || c == '\n' || c == '\r' || c == '\t'
		}) {
			p, ok := clean(part)
			if !ok {
				// Still honour short or odd exclusions word by word.
				p = strings.Join(strings.Fields(strings.ToLower(part)), " ")
			}
			if p == "" {
				continue
			}
			e.phrases[dedupKey(p)] = true
			for _, w := range strings.Fields(p) {
				if !stopWords[w] {
					e.words[singular(w)] = true
				}
			}
		}
	}
	return e
}

// excludes applies the rule "exact match, or the exclusion words cover at
// least half of the tag's words".
func (e exclusions) excludes(tag string) bool {
	if len(e.phrases) == 0 {
		return false
	}
	if e.phrases[dedupKey(tag)] {
		return true
	}
	words := strings.Fields(tag)
	hit := 0
	for _, w := range words {
		if e.words[singular(w)] {
			hit++
		}
	}
	return hit > 0 && 2*hit >= len(words)
}
