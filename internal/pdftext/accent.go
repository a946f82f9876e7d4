package pdftext

import (
	"math"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// spacingAccents maps the spacing accents TeX and other producers draw
// as separate glyphs over a letter to the combining marks that compose
// with it ("u" + "¨" is "ü"), as pdftotext does.
var spacingAccents = map[rune]rune{
	'`': 0x300, 0xB4: 0x301, '^': 0x302, 0x2C6: 0x302, '~': 0x303, 0x2DC: 0x303,
	0xAF: 0x304, 0x2C9: 0x304, 0x2D8: 0x306, 0x2D9: 0x307, 0xA8: 0x308,
	0x2DA: 0x30A, 0x2DD: 0x30B, 0x2C7: 0x30C, 0xB8: 0x327, 0x2DB: 0x328,
}

// accentMark returns the combining mark a glyph's text stands for, or 0.
func accentMark(s string) rune {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || n != len(s) {
		return 0
	}
	if r >= 0x300 && r <= 0x36F {
		return r
	}
	return spacingAccents[r]
}

// composeAccents merges each accent glyph drawn over a neighbouring letter
// into that letter, so "fu¨r" reads "für". The accent's centre must lie
// over the letter and its baseline within a font size of the letter's;
// glyphs merely side by side (a backquote in a code listing) stay apart.
// Only compositions that Unicode has as one character are made.
func composeAccents(glyphs []placed) []placed {
	out := glyphs[:0:0]
	skip := -1
	for i := range glyphs {
		if i == skip {
			continue
		}
		g := glyphs[i]
		mark := accentMark(g.text)
		if mark == 0 {
			out = append(out, g)
			continue
		}
		// TeX draws the accent first; other producers draw it after.
		if i+1 < len(glyphs) {
			if t, ok := composeWith(g, mark, glyphs[i+1]); ok {
				b := glyphs[i+1]
				b.text = t
				out = append(out, b)
				skip = i + 1
				continue
			}
		}
		if n := len(out); n > 0 {
			if t, ok := composeWith(g, mark, out[n-1]); ok {
				out[n-1].text = t
				continue
			}
		}
		out = append(out, g)
	}
	return out
}

// composeWith returns base's text with mark composed in, if accent a sits
// over base and Unicode has the composed letter.
func composeWith(a placed, mark rune, base placed) (string, bool) {
	br, n := utf8.DecodeRuneInString(base.text)
	if n == 0 || n != len(base.text) || accentMark(base.text) != 0 {
		return "", false
	}
	rot := rotation(base.ax, base.ay)
	if rotation(a.ax, a.ay) != rot {
		return "", false
	}
	ax, ay := rotate(rot, a.x, a.y)
	aw, _ := rotate(rot, a.dx, a.dy)
	bx, by := rotate(rot, base.x, base.y)
	bw, _ := rotate(rot, base.dx, base.dy)
	size := math.Max(math.Abs(base.size), math.Abs(a.size))
	centre := ax + aw/2
	if bw <= 0 || centre < bx || centre > bx+bw || math.Abs(ay-by) > size {
		return "", false
	}
	// A dotless i or j under an accent is the plain letter.
	switch br {
	case 0x131:
		br = 'i'
	case 0x237:
		br = 'j'
	}
	s := norm.NFC.String(string([]rune{br, mark}))
	if utf8.RuneCountInString(s) != 1 {
		return "", false
	}
	return s, true
}
