package auth

import (
	"net/mail"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/tagstream/tagstream/internal/apperr"
)

// canonicalEmail is the one form an address is stored, compared and shown
// in: NFKC (so full-width and other compatibility forms fold to the plain
// characters they look like), trimmed, lower case.
func canonicalEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(norm.NFKC.String(email)))
}

// checkEmail validates a canonical address. Invisible characters and
// letters of several scripts in one part are refused rather than folded:
// "аlice" with a Cyrillic а is a different string that looks identical in
// the audit trail, so accepting it would let an account pass for another.
func checkEmail(email string) error {
	for _, r := range email {
		if invisible(r) {
			return apperr.Field("email", "must not contain invisible or control characters (U+%04X)", r)
		}
	}
	if !looksLikeEmail(email) {
		return apperr.Field("email", "must be a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	if mixedScript(email[:at]) {
		return apperr.Field("email", "the part before @ mixes letters of different scripts")
	}
	if mixedScript(email[at+1:]) {
		return apperr.Field("email", "the domain mixes letters of different scripts")
	}
	return nil
}

// invisible reports characters that render as nothing (or move other
// text): format characters such as zero-width spaces and joiners and the
// bidi controls, other controls, default-ignorables, variation selectors,
// and any space (a canonical address has none).
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Z,
		unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
		r == unicode.ReplacementChar || r == '\u115f' || r == '\u1160' || r == '\u3164' || r == '\uffa0' // Hangul fillers
}

// cjk scripts may be combined with each other and with Latin, as Japanese,
// Chinese and Korean text routinely is (the "highly restrictive" profile of
// Unicode TS #39); every other pair of scripts is mixed.
var cjk = map[string]bool{"Han": true, "Hiragana": true, "Katakana": true, "Hangul": true, "Bopomofo": true}

// mixedScript reports whether s has letters of more than one script,
// ignoring Common and Inherited characters (digits, punctuation, marks).
func mixedScript(s string) bool {
	seen := map[string]bool{}
	for _, r := range s {
		if r < 0x80 {
			if unicode.IsLetter(r) {
				seen["Latin"] = true
			}
			continue
		}
		if sc := scriptOf(r); sc != "" {
			seen[sc] = true
		}
	}
	if len(seen) <= 1 {
		return false
	}
	for sc := range seen {
		if sc != "Latin" && !cjk[sc] {
			return true
		}
	}
	return false
}

// scriptOf returns the Unicode script of r, or "" for Common, Inherited
// and unassigned characters.
func scriptOf(r rune) string {
	for name, table := range unicode.Scripts {
		if name == "Common" || name == "Inherited" {
			continue
		}
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// looksLikeEmail accepts a bare addr-spec with a dotted domain. It is
// deliberately stricter than RFC 5322 (no display names, comments or
// quoted local parts), because the address is an identifier, not mail.
func looksLikeEmail(email string) bool {
	if email == "" || len(email) > maxEmailBytes || strings.ContainsAny(email, " \t\r\n\"()<>,;:\\[]") {
		return false
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return false
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	return at > 0 && strings.Contains(domain, ".") &&
		!strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
