package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// searchWords splits text into the words the search index holds: runs of
// letters, digits and combining marks, lower-cased, in NFC. Marks count
// as word characters because Devanagari (and every Indic script) writes
// vowels and nasalisation as marks: "हिंदी" is one word, not "ह", "द".
// Both stores index the words this function returns, joined by spaces,
// so SQLite and PostgreSQL find the same documents for the same query.
func searchWords(text string) []string {
	text = norm.NFC.String(text)
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
}

// maxIndexedChars bounds the text one document contributes to the index:
// a spreadsheet cell of megabytes must not make one row the index's bulk.
const maxIndexedChars = 16 << 10

// searchBody is the indexed text of one document: title, tags,
// description and the values of its extra columns.
func searchBody(d docFields) string {
	parts := []string{d.Title, strings.Join(d.Tags, " "), d.Description}
	keys := make([]string, 0, len(d.Extra))
	for k := range d.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := d.Extra[k].(type) {
		case string:
			parts = append(parts, v)
		case nil:
		default:
			parts = append(parts, fmt.Sprint(v))
		}
	}
	body := strings.Join(searchWords(strings.Join(parts, " ")), " ")
	if len(body) > maxIndexedChars {
		body = body[:maxIndexedChars]
		if i := strings.LastIndexByte(body, ' '); i > 0 {
			body = body[:i]
		}
	}
	return body
}

// term is one word of a search query; Prefix when it ended in "*".
type term struct {
	Word   string
	Prefix bool
}

// maxTerms bounds a query's words: each is a lookup in the index.
const maxTerms = 16

// parseQuery turns what a user typed into terms every match must contain.
// Words are split as the index splits them, so nothing the user types can
// reach the FTS5 or tsquery syntax: only letters, digits and marks do.
func parseQuery(q string) ([]term, error) {
	var out []term
	for _, field := range strings.Fields(q) {
		words := searchWords(field)
		for i, w := range words {
			out = append(out, term{Word: w, Prefix: i == len(words)-1 && strings.HasSuffix(field, "*")})
		}
	}
	if len(out) > maxTerms {
		return nil, fmt.Errorf("has more than %d words", maxTerms)
	}
	return out, nil
}

// ownerToken and tagToken are the keys that stand for a document's owner
// and its tags in the index (their own FTS5 column; weight A in the
// tsvector, where words are D), so a search by owner, tag and words
// intersects posting lists inside the index instead of walking every
// match of its most common part. Hex only, so both tokenizers keep them
// whole; hashed, so no word can pass for one.
func ownerToken(owner string) string { return "o" + shortHash(owner) }

func tagToken(tag string) string { return "t" + shortHash(normTag(tag)) }

// orgToken stands for a document's organisation; documents outside
// organisations carry orgToken(""), so a global search narrows too.
func orgToken(orgID string) string { return "g" + shortHash("org\x00"+orgID) }

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:10])
}

// searchKeys is the keys column of a document: its owner, its
// organisation and its tags.
func searchKeys(owner, orgID string, tags []string) string {
	keys := []string{ownerToken(owner), orgToken(orgID)}
	for _, t := range tags {
		if normTag(t) != "" {
			keys = append(keys, tagToken(t))
		}
	}
	return strings.Join(keys, " ")
}

// searchSpec is what a search asks of the index: every key, one of
// anyKeys (when set) and every term.
type searchSpec struct {
	keys    []string // ownerToken, orgToken, tagToken
	anyKeys []string // a scope of several parts: ownerToken, orgToken
	terms   []term
}

// ftsMatch is the FTS5 MATCH expression of s.
func ftsMatch(s searchSpec) string {
	var parts []string
	for _, k := range s.keys {
		parts = append(parts, `keys : "`+k+`"`)
	}
	var anyOf []string
	for _, k := range s.anyKeys {
		anyOf = append(anyOf, `keys : "`+k+`"`)
	}
	if len(anyOf) > 0 {
		parts = append(parts, "("+strings.Join(anyOf, " OR ")+")")
	}
	for _, t := range s.terms {
		p := `body : "` + t.Word + `"`
		if t.Prefix {
			p += "*"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " AND ")
}

// tsQuery is the PostgreSQL to_tsquery('simple', ...) text of s.
func tsQuery(s searchSpec) string {
	var parts []string
	for _, k := range s.keys {
		parts = append(parts, "'"+k+"':A")
	}
	var anyOf []string
	for _, k := range s.anyKeys {
		anyOf = append(anyOf, "'"+k+"':A")
	}
	if len(anyOf) > 0 {
		parts = append(parts, "("+strings.Join(anyOf, " | ")+")")
	}
	for _, t := range s.terms {
		p := "'" + t.Word + "':"
		if t.Prefix {
			p += "*"
		}
		parts = append(parts, p+"D")
	}
	return strings.Join(parts, " & ")
}
