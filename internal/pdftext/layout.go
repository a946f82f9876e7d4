package pdftext

import (
	"context"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Layout thresholds, as fractions of the font size. They follow the
// values poppler uses, so that our words split where pdftotext's do.
const (
	wordGap      = 0.1  // a gap wider than this separates words
	minGap       = 0.03 // narrower gaps never show as a space
	lineDelta    = 0.5  // baselines closer than this are one line
	maxOverlap   = 0.5  // going back further than this starts a new run
	maxRunGap    = 1.5  // a gap wider than this starts a new run
	dupTolerance = 0.15 // a repeat of the same glyph this close is fake bold
)

// run is a sequence of glyphs drawn one after another on one baseline.
type run struct {
	rot        int
	x0, x1     float64
	base, size float64
	text       strings.Builder
	lastX      float64
	lastText   string
	lastSize   float64
	lastBase   float64
	space      bool // a space glyph ended the run so far
	key        blockKey
	// dir is the drawing direction: 0 undecided, 1 left to right, -1
	// right to left. XeTeX, LuaTeX and most Office producers draw Arabic
	// and Hebrew glyph by glyph leftwards in reading order; such a run's
	// text holds the glyphs in drawing order and is reversed into visual
	// order by visual().
	dir int
}

// visual returns the run's text left to right on the page, the order the
// rest of the layout (and logicalOrder) expects.
func (r *run) visual() string {
	t := r.text.String()
	if r.dir >= 0 {
		return t
	}
	rs := []rune(t)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// rotation classifies a baseline direction into 0, 90, 180 or 270 degrees.
func rotation(ax, ay float64) int {
	if math.Abs(ax) >= math.Abs(ay) {
		if ax >= 0 {
			return 0
		}
		return 2
	}
	if ay > 0 {
		return 1
	}
	return 3
}

// rotate maps a point into the frame where text of rotation rot runs
// left to right with y up.
func rotate(rot int, x, y float64) (float64, float64) {
	switch rot {
	case 1:
		return y, -x
	case 2:
		return -x, -y
	case 3:
		return -y, x
	}
	return x, y
}

// layoutPage turns placed glyphs into text lines in reading order.
// It stops with ctx's error when the deadline passes.
func layoutPage(ctx context.Context, glyphs []placed) (string, error) {
	runs, err := buildRuns(ctx, composeAccents(glyphs))
	if err != nil || len(runs) == 0 {
		return "", err
	}
	// Upright text first, then the rotated groups; within each, column
	// by column (see readingBlocks), each top to bottom.
	readingBlocks(runs)
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		if a.rot != b.rot {
			return a.rot < b.rot
		}
		if ka, kb := a.key, b.key; ka != kb {
			if ka.band != kb.band {
				return ka.band < kb.band
			}
			return ka.col < kb.col
		}
		return a.base > b.base
	})
	var lines []string
	for i := 0; i < len(runs); {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		j := i + 1
		for j < len(runs) && runs[j].rot == runs[i].rot && runs[j].key == runs[i].key &&
			runs[i].base-runs[j].base < lineDelta*math.Max(runs[i].size, runs[j].size) {
			j++
		}
		if s := joinLine(runs[i:j]); s != "" {
			lines = append(lines, logicalOrder(s))
		}
		i = j
	}
	return dehyphenate(lines), nil
}

// buildRuns groups glyphs in drawing order, which within a line is almost
// always reading order, and inserts spaces at word gaps.
func buildRuns(ctx context.Context, glyphs []placed) ([]*run, error) {
	var runs []*run
	var cur *run
	for i, g := range glyphs {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		text := cleanText(g.text)
		if text == "" {
			continue
		}
		rot := rotation(g.ax, g.ay)
		x0, base := rotate(rot, g.x, g.y)
		adv, _ := rotate(rot, g.dx, g.dy)
		x1 := x0 + math.Max(adv, 0)
		size := g.size
		if size <= 0 || math.IsNaN(size) || math.IsInf(size, 0) {
			size = 1
		}
		if strings.TrimSpace(text) == "" {
			if cur != nil {
				cur.space = true
			}
			continue
		}
		if cur != nil && cur.rot == rot {
			tol := math.Max(size, cur.size)
			if math.Abs(x0-cur.lastX) < dupTolerance*tol && math.Abs(base-cur.base) < dupTolerance*tol && text == cur.lastText {
				continue
			}
			// A glyph continues the run to the right (gap from the run's
			// right edge) or, in a right-to-left run, to the left (gap
			// from the run's left edge to the glyph's right edge). The
			// direction is decided by the first glyph that, with its
			// centre left of the run, ends near the run's left edge;
			// measuring RTL gaps from the wrong edge split every Arabic
			// word into pairs of letters.
			gap, dir := x0-cur.x1, cur.dir
			if rtlGap := cur.x0 - x1; dir < 0 ||
				dir == 0 && (x0+x1)/2 < cur.x0 && math.Abs(rtlGap) < math.Abs(gap) {
				gap, dir = rtlGap, -1
			} else {
				dir = 1
			}
			if math.Abs(base-cur.base) < lineDelta*tol && gap > -maxOverlap*tol && gap < maxRunGap*tol {
				// A zero-width first glyph (a mark) does not decide.
				if cur.x1-cur.x0 > minGap*cur.size {
					cur.dir = dir
				}
				// Like pdftotext: a wide gap always separates words; a
				// space glyph, a change of size or a baseline shift only
				// ends a word, and a space is then shown if there is a
				// visible gap at all.
				brk := cur.space || size != cur.lastSize || math.Abs(base-cur.lastBase) > 0.5
				if gap > wordGap*cur.lastSize || (brk && gap >= minGap*cur.lastSize) {
					cur.text.WriteByte(' ')
				}
				cur.text.WriteString(text)
				cur.x0, cur.x1 = math.Min(cur.x0, x0), math.Max(cur.x1, x1)
				cur.lastX, cur.lastText, cur.space = x0, text, false
				cur.lastSize, cur.lastBase = size, base
				cur.size = math.Max(cur.size, size)
				continue
			}
		}
		cur = &run{rot: rot, x0: x0, x1: x1, base: base, size: size, lastX: x0, lastText: text, lastSize: size, lastBase: base}
		cur.text.WriteString(text)
		runs = append(runs, cur)
	}
	return runs, nil
}

// joinLine orders the runs of one line left to right.
func joinLine(rs []*run) string {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].x0 < rs[j].x0 })
	var b strings.Builder
	var prev *run
	for _, r := range rs {
		t := r.visual()
		if prev != nil {
			gap := r.x0 - prev.x1
			tol := math.Max(r.size, prev.size)
			switch {
			case prev.visual() == t && math.Abs(r.x0-prev.x0) < dupTolerance*tol:
				continue // drawn twice for a bold or shadow effect
			case gap < minGap*prev.lastSize:
				// Pieces of one word drawn separately.
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteString(t)
		prev = r
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// dehyphenate joins a line ending in a hyphenated word fragment with the
// next line, as pdftotext does, so split words read whole.
func dehyphenate(lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		if i+1 < len(lines) && hyphenated(l) {
			next, _ := utf8.DecodeRuneInString(lines[i+1])
			if unicode.IsLetter(next) {
				b.WriteString(l[:len(l)-1])
				continue
			}
		}
		b.WriteString(l)
		if i+1 < len(lines) {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func hyphenated(l string) bool {
	if !strings.HasSuffix(l, "-") || len(l) < 2 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(l[:len(l)-1])
	return unicode.IsLetter(r)
}

// cleanText drops control characters and expands the Latin ligatures
// (U+FB00..U+FB06) that ToUnicode maps often produce, as pdftotext does.
func cleanText(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || (r >= 0x7F && r < 0xA0) || (r >= 0xFB00 && r <= 0xFB06) || r == 0xFFFD || r == 0xFEFF || r == 0xA0 || r == 0xAD {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == 0xA0:
			b.WriteByte(' ')
		case r == 0xAD:
			b.WriteByte('-')
		case r < 0x20 || (r >= 0x7F && r < 0xA0) || r == 0xFFFD || r == 0xFEFF:
		case r >= 0xFB00 && r <= 0xFB06:
			b.WriteString([]string{"ff", "fi", "fl", "ffi", "ffl", "st", "st"}[r-0xFB00])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
