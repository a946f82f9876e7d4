package sqldb

import (
	"strings"
	"unicode/utf8"
)

// The log keeps whatever strings its events carry: a model's answer, a
// PDF's text, a column of a client's spreadsheet, an event written before
// today's input checks. PostgreSQL's text refuses NUL and bytes that are
// not UTF-8, and a projection that cannot store an event stops for every
// user. So every string argument, on both stores alike (their canonical
// dumps must stay equal), has NUL and invalid bytes replaced by U+FFFD
// before the driver sees it; a read by such a string finds what was
// stored for it.

// storable returns args with every string made storable, copying args
// only when one needs it (almost never).
func storable(args []any) []any {
	for i, a := range args {
		if s, ok := a.(string); ok && !plainText(s) {
			out := append([]any(nil), args...)
			for j := i; j < len(out); j++ {
				if s, ok := out[j].(string); ok {
					out[j] = StorableText(s)
				}
			}
			return out
		}
	}
	return args
}

func plainText(s string) bool { return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) }

// StorableText is s as the read database stores it.
func StorableText(s string) string {
	if plainText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
