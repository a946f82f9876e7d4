package tagging

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Budgets of an exclusion list; the start command applies the same two
// per-term and per-list limits to exclusion words however they arrive.
const (
	MaxExclusionListBytes = 1 << 20
	MaxExclusionTerms     = 1000
	MaxExclusionTermBytes = 100
)

// ListError is a problem in an exclusion list file, at a line (1-based;
// 0 for the file as a whole).
type ListError struct {
	Line int
	Msg  string
}

func (e *ListError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// ParseExclusionList reads an exclusion list file (.txt): one term per
// line or several separated by commas; '#' starts a comment when it begins
// a line or follows a space (so "C#" is a term); blank lines, surrounding
// spaces, a UTF-8 byte-order mark and repeats (ignoring case) are dropped.
// This is the only parser of the format: the CLI's --exclude-file and the
// console (through POST /api/exclusions/parse) both use it.
func ParseExclusionList(text string) ([]string, error) {
	if len(text) > MaxExclusionListBytes {
		return nil, &ListError{Msg: fmt.Sprintf("the list is %d bytes, more than the %d allowed", len(text), MaxExclusionListBytes)}
	}
	text = strings.TrimPrefix(text, "\ufeff")
	text = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(text)
	out := []string{}
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		if !utf8.ValidString(line) {
			return nil, &ListError{Line: n, Msg: "not valid UTF-8 (save the file as UTF-8 text)"}
		}
		line = stripComment(line)
		for _, term := range strings.Split(line, ",") {
			term = strings.TrimSpace(term)
			if term == "" {
				continue
			}
			if strings.IndexFunc(term, unicode.IsControl) >= 0 {
				return nil, &ListError{Line: n, Msg: fmt.Sprintf("term %q contains a control character", term)}
			}
			if len(term) > MaxExclusionTermBytes {
				return nil, &ListError{Line: n, Msg: fmt.Sprintf("a term is longer than %d bytes", MaxExclusionTermBytes)}
			}
			key := strings.ToLower(term)
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, term)
			if len(out) > MaxExclusionTerms {
				return nil, &ListError{Line: n, Msg: fmt.Sprintf("more than %d terms", MaxExclusionTerms)}
			}
		}
	}
	return out, nil
}

func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}
