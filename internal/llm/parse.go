package llm

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/tagstream/tagstream/internal/tagging"
)

// tiers are the raw tags of one model answer, by tier. Answers without
// tiers (a "tags" array, a bare array, a plain list) land in flat.
type tiers struct {
	names, subjects, actions, flat []string
}

func (t tiers) all() []string {
	out := make([]string, 0, len(t.names)+len(t.subjects)+len(t.actions)+len(t.flat))
	out = append(out, t.names...)
	out = append(out, t.subjects...)
	out = append(out, t.actions...)
	return append(out, t.flat...)
}

var fence = regexp.MustCompile("(?s)```[a-zA-Z]*\\s*(.*?)```")

// The answer is untrusted: a document can talk the model into writing
// anything. A real answer of at most maxNumTags tags is a few KiB, so only
// its first maxAnswerText bytes are read, at most maxFences fenced blocks,
// and at most maxJSONStarts places are tried as the start of a JSON value
// in prose: each try may decode to the end, so without a bound a text of
// '{'s costs its length squared.
const (
	maxAnswerText = 256 << 10
	maxFences     = 8
	maxJSONStarts = 64
)

// parseAnswer reads tags out of whatever the model wrote. Models ignore
// format instructions often enough that every shape seen in practice is
// accepted: plain JSON, ```json fences, prose around a JSON object, a JSON
// array, {"tags": [...]}, and as a last resort a comma or newline list.
func parseAnswer(content string) tiers {
	if len(content) > maxAnswerText {
		content = strings.ToValidUTF8(content[:maxAnswerText], "")
	}
	content = strings.TrimSpace(content)
	candidates := []string{content}
	for _, m := range fence.FindAllStringSubmatch(content, maxFences) {
		candidates = append(candidates, m[1])
	}
	for _, c := range candidates {
		if t, ok := parseJSON(strings.TrimSpace(c)); ok {
			return t
		}
	}
	// Prose around JSON: try each '{' or '[' as the start of a value.
	tries := 0
	for _, c := range candidates {
		for i := 0; i < len(c) && tries < maxJSONStarts; i++ {
			if c[i] != '{' && c[i] != '[' {
				continue
			}
			tries++
			var v any
			if json.NewDecoder(strings.NewReader(c[i:])).Decode(&v) == nil {
				if t, ok := fromValue(v); ok {
					return t
				}
			}
		}
	}
	body := content
	if len(candidates) > 1 {
		body = candidates[1]
	}
	return tiers{flat: parseList(body)}
}

func parseJSON(s string) (tiers, bool) {
	if s == "" || (s[0] != '{' && s[0] != '[') {
		return tiers{}, false
	}
	var v any
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	if d.Decode(&v) != nil {
		return tiers{}, false
	}
	return fromValue(v)
}

// fromValue maps a decoded JSON value onto tiers; ok is false when it holds
// no strings at all, so that the caller keeps looking.
func fromValue(v any) (tiers, bool) {
	var t tiers
	switch x := v.(type) {
	case []any:
		t.flat = strs(x)
	case map[string]any:
		// Unknown keys are read in sorted order so the result is stable.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vals := strs(x[k])
			switch strings.ToLower(k) {
			case "names", "name", "entities", "proper_nouns":
				t.names = append(t.names, vals...)
			case "subjects", "subject", "topics":
				t.subjects = append(t.subjects, vals...)
			case "actions", "action", "types", "document_type", "purpose":
				t.actions = append(t.actions, vals...)
			default:
				t.flat = append(t.flat, vals...)
			}
		}
	case string:
		t.flat = parseList(x)
	}
	return t, len(t.all()) > 0
}

// strs flattens strings out of arrays, nested arrays, comma-separated
// strings and objects like {"tag": "..."} or {"name": "..."}.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return parseList(x)
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
				continue
			}
			out = append(out, strs(e)...)
		}
		return out
	case map[string]any:
		for _, k := range []string{"tag", "name", "keyword", "label", "value", "text"} {
			if s, ok := x[k].(string); ok {
				return []string{s}
			}
		}
		// A nested tier object such as {"tags": {"names": [...]}}.
		if t, ok := fromValue(x); ok {
			return t.all()
		}
	}
	return nil
}

// parseList splits a plain answer on newlines, commas and semicolons.
// Lead-ins like "Here are the tags:" are dropped and "Tags: a, b" keeps
// what follows the colon.
func parseList(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasSuffix(line, ":") {
			continue
		}
		if i := strings.Index(line, ":"); i > 0 && len(strings.Fields(line[:i])) <= 3 {
			line = line[i+1:]
		}
		for _, part := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ';' }) {
			part = strings.Trim(strings.TrimSpace(part), `"'`+"`")
			if sentence(part) {
				// "I cannot tag this document." is an apology, not a tag.
				continue
			}
			if part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// selectTags picks up to n normalised tags keeping the tier proportions of
// the prompt, so that a long list of names cannot crowd out the subjects
// and the document type. Leftovers of any tier fill the remaining places.
func selectTags(t tiers, exclusions []string, n int, anyScript bool) []string {
	o := tagging.Options{AnyScript: anyScript}
	names := tagging.NormalizeWith(t.names, exclusions, 0, o)
	subjects := tagging.NormalizeWith(t.subjects, exclusions, 0, o)
	actions := tagging.NormalizeWith(t.actions, exclusions, 0, o)
	flat := tagging.NormalizeWith(t.flat, exclusions, 0, o)
	qn, qs, qa := tierSplit(n)
	head := func(s []string, q int) []string { return s[:min(q, len(s))] }
	tail := func(s []string, q int) []string { return s[min(q, len(s)):] }
	order := make([]string, 0, len(names)+len(subjects)+len(actions)+len(flat))
	order = append(order, head(names, qn)...)
	order = append(order, head(subjects, qs)...)
	order = append(order, head(actions, qa)...)
	order = append(order, tail(names, qn)...)
	order = append(order, tail(subjects, qs)...)
	order = append(order, tail(actions, qa)...)
	order = append(order, flat...)
	return tagging.NormalizeWith(order, exclusions, n, o)
}

func sentence(s string) bool {
	return strings.ContainsAny(s[max(len(s)-1, 0):], ".!?") && len(strings.Fields(s)) >= 3
}
