package pdftext

import (
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// matrix is a PDF transformation matrix [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n (apply m first, then n).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m matrix) apply(x, y float64) (float64, float64) {
	return x*m[0] + y*m[2] + m[4], x*m[1] + y*m[3] + m[5]
}

// translate returns translate(tx, ty) × m.
func (m matrix) translate(tx, ty float64) matrix {
	m[4] += tx*m[0] + ty*m[2]
	m[5] += tx*m[1] + ty*m[3]
	return m
}

// gstate is the part of the graphics state that affects text placement.
type gstate struct {
	ctm       matrix
	font      *font
	fontSize  float64
	charSpace float64
	wordSpace float64
	hscale    float64
	leading   float64
	rise      float64
}

// placed is one shown glyph in user space.
type placed struct {
	x, y   float64 // origin
	dx, dy float64 // advance vector
	ax, ay float64 // unit direction of the text baseline
	size   float64 // font size in user space
	text   string
	font   *font
}

// pageOut collects what the interpreter saw on one page.
type pageOut struct {
	glyphs    []placed
	imageArea float64
}

// Limits that keep hostile content streams from exhausting memory.
const (
	maxGlyphsPerPage = 1 << 18 // a dense page has about 10,000
	maxStateDepth    = 256
	maxFormDepth     = 16
	checkEvery       = 1 << 12
)

// interp runs one content stream (a page or a form XObject).
type interp struct {
	x       *extractor
	out     *pageOut
	gs      gstate
	stack   []gstate
	tm, tlm matrix
	res     types.Dict
	fonts   map[string]*font
	depth   int
	args    []object
	// marked is the stack of open marked-content sequences; true entries
	// carry ActualText, which replaces the text of the glyphs inside.
	marked []bool
	actual *actualSpan
}

// actualSpan collects the extent of glyphs covered by an ActualText.
type actualSpan struct {
	text  string
	first placed
	seen  bool
	ex    float64
	ey    float64
}

// fallbackFont is used when Tf names a font that cannot be found, so that
// text shown with it is not lost entirely.
var fallbackFont = &font{kind: fontSimple, scale: 0.001, sizeScale: 1, missing: defaultWidth}

func (x *extractor) newInterp(out *pageOut, res types.Dict, gs gstate, depth int) *interp {
	return &interp{x: x, out: out, gs: gs, tm: identity, tlm: identity, res: res, depth: depth}
}

func (in *interp) num(i int) float64 {
	if i >= 0 && i < len(in.args) && in.args[i].kind == objNumber {
		v := in.args[i].num
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		return v
	}
	return 0
}

// run interprets content. It returns early, with the context's error,
// when the extraction deadline passes.
func (in *interp) run(content []byte) error {
	l := &lexer{data: content}
	x := in.x
	for {
		k, o, op := l.next(0)
		// Operands count too, so a stream of numbers without operators
		// still reaches the deadline check.
		if x.tokens++; x.tokens%checkEvery == 0 {
			if err := x.ctx.Err(); err != nil {
				return err
			}
		}
		switch k {
		case tokEOF:
			return x.err
		case tokOperand:
			if len(in.args) < 64 {
				in.args = append(in.args, o)
			}
			continue
		case tokOp:
		default:
			continue
		}
		x.ops++
		x.pageOps++
		switch {
		case x.pageOps > x.lim.PageOps:
			return overBudget(BudgetPageOps, int64(x.lim.PageOps))
		case x.ops > x.lim.DocOps:
			return overBudget(BudgetDocOps, int64(x.lim.DocOps))
		}
		if err := in.do(string(op), l); err != nil {
			return err
		}
		if x.err != nil {
			return x.err
		}
		in.args = in.args[:0]
	}
}

func (in *interp) do(op string, l *lexer) error {
	n := len(in.args)
	switch op {
	case "q":
		if len(in.stack) < maxStateDepth {
			in.stack = append(in.stack, in.gs)
		}
	case "Q":
		if len(in.stack) > 0 {
			in.gs = in.stack[len(in.stack)-1]
			in.stack = in.stack[:len(in.stack)-1]
		}
	case "cm":
		if n >= 6 {
			m := matrix{in.num(n - 6), in.num(n - 5), in.num(n - 4), in.num(n - 3), in.num(n - 2), in.num(n - 1)}
			in.gs.ctm = m.mul(in.gs.ctm)
		}
	case "BT":
		in.tm, in.tlm = identity, identity
	case "Tf":
		if n >= 2 {
			in.gs.fontSize = in.num(n - 1)
			if in.args[n-2].kind == objName {
				in.gs.font = in.font(string(in.args[n-2].str))
			}
		}
	case "Tc":
		in.gs.charSpace = in.num(n - 1)
	case "Tw":
		in.gs.wordSpace = in.num(n - 1)
	case "Tz":
		in.gs.hscale = in.num(n-1) / 100
	case "TL":
		in.gs.leading = in.num(n - 1)
	case "Ts":
		in.gs.rise = in.num(n - 1)
	case "Td":
		in.tlm = in.tlm.translate(in.num(n-2), in.num(n-1))
		in.tm = in.tlm
	case "TD":
		in.gs.leading = -in.num(n - 1)
		in.tlm = in.tlm.translate(in.num(n-2), in.num(n-1))
		in.tm = in.tlm
	case "Tm":
		if n >= 6 {
			in.tlm = matrix{in.num(n - 6), in.num(n - 5), in.num(n - 4), in.num(n - 3), in.num(n - 2), in.num(n - 1)}
			in.tm = in.tlm
		}
	case "T*":
		in.nextLine()
	case "Tj":
		if n >= 1 {
			in.show(in.args[n-1].str)
		}
	case "'":
		in.nextLine()
		if n >= 1 {
			in.show(in.args[n-1].str)
		}
	case "\"":
		if n >= 3 {
			in.gs.wordSpace = in.num(n - 3)
			in.gs.charSpace = in.num(n - 2)
		}
		in.nextLine()
		if n >= 1 {
			in.show(in.args[n-1].str)
		}
	case "TJ":
		if n >= 1 {
			for _, el := range in.args[n-1].arr {
				if el.kind == objNumber {
					in.kern(el.num)
				} else if el.kind == objString {
					in.show(el.str)
				}
			}
		}
	case "Do":
		if n >= 1 && in.args[n-1].kind == objName {
			return in.xobject(string(in.args[n-1].str))
		}
	case "BI":
		l.skipInlineImage()
		in.addImage()
	case "BMC":
		in.beginMarked("", false)
	case "BDC":
		text, ok := "", false
		if n >= 1 && in.args[n-1].kind == objDict {
			text, ok = actualText(in.args[n-1].arr)
		}
		in.beginMarked(text, ok)
	case "EMC":
		in.endMarked()
	}
	return nil
}

// actualText finds /ActualText in an inline property list.
func actualText(kv []object) (string, bool) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i].kind == objName && string(kv[i].str) == "ActualText" && kv[i+1].kind == objString {
			return textString(kv[i+1].str), true
		}
	}
	return "", false
}

func (in *interp) beginMarked(text string, actual bool) {
	if len(in.marked) >= maxStateDepth {
		return
	}
	// Nested ActualText is covered by the outer one.
	if actual && in.actual == nil {
		in.actual = &actualSpan{text: text}
	} else {
		actual = false
	}
	in.marked = append(in.marked, actual)
}

func (in *interp) endMarked() {
	if len(in.marked) == 0 {
		return
	}
	actual := in.marked[len(in.marked)-1]
	in.marked = in.marked[:len(in.marked)-1]
	if !actual || in.actual == nil {
		return
	}
	a := in.actual
	in.actual = nil
	if a.seen && len(in.out.glyphs) < maxGlyphsPerPage {
		g := a.first
		g.text = a.text
		g.dx, g.dy = a.ex-g.x, a.ey-g.y
		in.out.glyphs = append(in.out.glyphs, g)
	}
}

func (in *interp) nextLine() {
	in.tlm = in.tlm.translate(0, -in.gs.leading)
	in.tm = in.tlm
}

// kern applies a TJ adjustment (thousandths of text space, subtracted).
func (in *interp) kern(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	d := -v / 1000 * in.gs.fontSize
	if in.gs.font != nil && in.gs.font.vertical {
		in.tm = in.tm.translate(0, d)
		return
	}
	in.tm = in.tm.translate(d*in.gs.hscale, 0)
}

// show places each glyph of a string and advances the text matrix.
func (in *interp) show(s []byte) {
	f := in.gs.font
	if f == nil {
		f = fallbackFont
	}
	gs := &in.gs
	f.decode(s, func(g glyph) {
		if in.x.pageText += int64(len(g.text)); in.x.pageText > in.x.lim.PageText {
			in.x.fail(overBudget(BudgetPageText, in.x.lim.PageText))
			return
		}
		m := in.tm.mul(gs.ctm)
		// The advance includes character and word spacing; the glyph's
		// own extent (ex, ey), which layout measures gaps from, does not,
		// as in pdftotext: pdfTeX sets Tc to a whole em and cancels it
		// with TJ kerning, and the gaps must still show.
		var tx, ty, ex, ey float64
		if f.vertical {
			ey = -gs.fontSize
			ty = ey - gs.charSpace
			if g.space {
				ty -= gs.wordSpace
			}
		} else {
			ex = g.width * gs.fontSize * gs.hscale
			tx = g.width*gs.fontSize + gs.charSpace
			if g.space {
				tx += gs.wordSpace
			}
			tx *= gs.hscale
		}
		// Glyphs without text leave a gap, as in pdftotext, except inside
		// ActualText, which spans all the glyphs it covers.
		if (g.text != "" && len(in.out.glyphs) < maxGlyphsPerPage) || in.actual != nil {
			x, y := m.apply(0, gs.rise)
			ax, ay := m[0], m[1]
			// A negative font size (or horizontal scale) flips the
			// glyphs and their advance: the text runs the other way
			// along the baseline, upside down, and reads correctly
			// when turned by 180 degrees.
			if gs.fontSize*gs.hscale < 0 && !f.vertical {
				ax, ay = -ax, -ay
			}
			// Vertical writing runs down the text space's y axis; layout
			// then reads each column as a line turned by 90 degrees, and
			// the columns from right to left.
			if f.vertical {
				ax, ay = -m[2], -m[3]
				if gs.fontSize < 0 {
					ax, ay = -ax, -ay
				}
			}
			if norm := math.Hypot(ax, ay); norm > 0 {
				ax, ay = ax/norm, ay/norm
			} else {
				ax = 1
			}
			p := placed{
				x: x, y: y,
				dx: ex*m[0] + ey*m[2], dy: ex*m[1] + ey*m[3],
				ax: ax, ay: ay,
				size: math.Abs(gs.fontSize) * math.Hypot(m[2], m[3]) * f.sizeScale,
				text: g.text,
				font: f,
			}
			if a := in.actual; a != nil {
				if !a.seen {
					a.first, a.seen = p, true
				}
				a.ex, a.ey = p.x+p.dx, p.y+p.dy
			} else {
				in.out.glyphs = append(in.out.glyphs, p)
			}
		}
		in.tm = in.tm.translate(tx, ty)
	})
}

// font resolves a font resource name, caching per content stream.
func (in *interp) font(name string) *font {
	if f, ok := in.fonts[name]; ok {
		return f
	}
	var f *font
	fonts := in.x.dict(in.res["Font"])
	if o, ok := fonts[name]; ok {
		f = in.x.fontFor(o)
	}
	if f == nil {
		f = fallbackFont
	}
	if in.fonts == nil {
		in.fonts = map[string]*font{}
	}
	in.fonts[name] = f
	return f
}

// addImage records the page area an image covers (the unit square mapped
// by the CTM), which is how scanned pages are recognised.
func (in *interp) addImage() {
	m := in.gs.ctm
	in.out.imageArea += math.Abs(m[0]*m[3] - m[1]*m[2])
}

// xobject draws a form XObject or records an image.
func (in *interp) xobject(name string) error {
	xobjs := in.x.dict(in.res["XObject"])
	ref, ok := xobjs[name]
	if !ok {
		return nil
	}
	sd := in.x.stream(ref)
	if sd == nil {
		return nil
	}
	switch in.x.name(sd.Dict["Subtype"]) {
	case "Image":
		in.addImage()
		return nil
	case "Form":
	default:
		return nil
	}
	if in.depth >= maxFormDepth {
		return nil
	}
	// A form that (indirectly) draws itself would recurse forever.
	key := -1
	if ir, ok := ref.(types.IndirectRef); ok {
		key = ir.ObjectNumber.Value()
		if in.x.active[key] {
			return nil
		}
		in.x.active[key] = true
		defer delete(in.x.active, key)
	}
	content, err := in.x.formContent(key, sd)
	if err != nil {
		return err
	}
	if len(content) == 0 {
		return nil
	}
	gs := in.gs
	if m := in.x.array(sd.Dict["Matrix"]); len(m) == 6 {
		var fm matrix
		for i := range fm {
			fm[i], _ = in.x.num(m[i])
		}
		gs.ctm = fm.mul(gs.ctm)
	}
	res := in.x.dict(sd.Dict["Resources"])
	if res == nil {
		res = in.res
	}
	sub := in.x.newInterp(in.out, res, gs, in.depth+1)
	if key >= 0 {
		// Share the form's font lookups across its drawings: a form drawn
		// 100,000 times must not load its fonts 100,000 times.
		if in.x.formFonts[key] == nil {
			in.x.formFonts[key] = map[string]*font{}
		}
		sub.fonts = in.x.formFonts[key]
	}
	return sub.run(content)
}
