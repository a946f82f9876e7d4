package pdftext

import (
	"strings"

	"golang.org/x/text/unicode/bidi"
)

// Right-to-left text (Arabic, Persian, Urdu, Hebrew) is drawn in visual
// order: left to right on the page, so a line read by position comes out
// reversed. logicalOrder turns one laid-out line back into reading order,
// the way a bidi display would have had to reorder it: in a line that is
// mostly right-to-left the whole line is reversed and the left-to-right
// pieces in it (Latin words, numbers) are turned back; in a mostly
// left-to-right line only the right-to-left pieces are reversed. Full UBA
// levels are not needed: a PDF line has at most these two levels.
func logicalOrder(line string) string {
	rs := []rune(line)
	var nR, nL int
	cls := make([]byte, len(rs)) // 'R' strong RTL, 'L' strong LTR, 'N' number, 0 neutral
	for i, r := range rs {
		p, _ := bidi.LookupRune(r)
		switch p.Class() {
		case bidi.R, bidi.AL:
			cls[i] = 'R'
			nR++
		case bidi.L:
			cls[i] = 'L'
			nL++
		case bidi.EN, bidi.AN:
			cls[i] = 'N' // numbers read left to right, even inside RTL text
		}
	}
	if nR == 0 {
		return line
	}
	if nR >= nL {
		reverse(rs, cls, 0, len(rs))
		mirror(rs)
		for _, sp := range spans(cls, "LN", 'R') {
			reverse(rs, cls, sp[0], sp[1])
		}
	} else {
		// Inside each RTL piece, its numbers keep their direction.
		for _, sp := range spans(cls, "R", 'L') {
			reverse(rs, cls, sp[0], sp[1])
			mirror(rs[sp[0]:sp[1]])
			sub := cls[sp[0]:sp[1]]
			for _, n := range spans(sub, "N", 'R') {
				reverse(rs[sp[0]:sp[1]], sub, n[0], n[1])
			}
		}
	}
	return string(rs)
}

// spans returns [start, end) of the maximal pieces that begin and end with
// a class in cs and contain no class other.
func spans(cls []byte, cs string, other byte) [][2]int {
	var out [][2]int
	start, last := -1, -1
	for i, k := range cls {
		switch {
		case k != 0 && strings.IndexByte(cs, k) >= 0:
			if start < 0 {
				start = i
			}
			last = i
		case k == other:
			if start >= 0 {
				out = append(out, [2]int{start, last + 1})
				start = -1
			}
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, last + 1})
	}
	return out
}

func reverse(rs []rune, cls []byte, i, j int) {
	for j--; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
		cls[i], cls[j] = cls[j], cls[i]
	}
}

// mirror swaps paired brackets, which a reversal turns inside out.
func mirror(rs []rune) {
	for i, r := range rs {
		switch r {
		case '(':
			rs[i] = ')'
		case ')':
			rs[i] = '('
		case '[':
			rs[i] = ']'
		case ']':
			rs[i] = '['
		case '{':
			rs[i] = '}'
		case '}':
			rs[i] = '{'
		}
	}
}
