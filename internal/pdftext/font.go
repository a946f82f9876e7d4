package pdftext

import (
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	pdffont "github.com/pdfcpu/pdfcpu/pkg/font"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

type fontKind uint8

const (
	fontSimple fontKind = iota
	fontCID
	fontType3
)

// font is what the interpreter needs from a PDF font: how to split a
// string into codes, each code's text, and each code's advance width.
type font struct {
	kind  fontKind
	enc   *encoding // simple fonts: code to text after Differences
	toUni *cmap
	codec *cmap // CID fonts: codespace and code-to-CID map; nil is Identity
	ucs   bool  // CID font whose predefined CMap encodes UCS-2
	// collection indexes cidTables for a CID font of an Adobe CJK
	// collection (-1 otherwise); gidText is the inverted cmap of an
	// embedded TrueType font, by glyph id. Both stand in for a missing
	// ToUnicode map.
	collection int
	cidToGID   []uint16 // CIDToGIDMap stream; nil is Identity
	gidText    map[uint16]rune
	vertical   bool

	firstChar int
	widths    []float64 // glyph units, indexed by code-firstChar
	missing   float64
	dw        float64
	cidW      map[uint32]float64
	wRanges   []wRange // sorted by lo
	// scale turns glyph units into text space (1/1000, or FontMatrix for Type3).
	scale float64
	// sizeScale corrects the nominal font size of Type3 fonts whose glyph
	// space is not 1000 units per em; layout uses it to judge gaps.
	sizeScale float64
}

// defaultWidth stands in when a font gives no width at all; half an em is
// a typical average advance, which keeps word gaps plausible.
const defaultWidth = 500

// loadFont builds a font from its dictionary. It never fails: a broken
// font degrades to an ASCII-like one so the rest of the page still reads.
func (x *extractor) loadFont(d types.Dict) *font {
	f := &font{scale: 0.001, sizeScale: 1, missing: defaultWidth, dw: 1000, collection: -1}
	sub := x.name(d["Subtype"])
	var names *[256]string // Differences names, for the Type 3 size guess
	if tu := x.stream(d["ToUnicode"]); tu != nil {
		if data := x.decode(tu); data != nil {
			// A broken map (garbage, or only control characters and
			// U+FFFD) is no map: the font's encoding, collection or
			// embedded cmap reads instead, as in pdftotext.
			if cm := parseCMap(data); cm.usable() {
				f.toUni = cm
			}
		}
	}
	switch sub {
	case "Type0":
		f.kind = fontCID
		x.loadCIDFont(f, d)
		return f
	case "Type3":
		f.kind = fontType3
		fm0, fm3 := 0.001, 0.001
		if m := x.array(d["FontMatrix"]); len(m) == 6 {
			a, _ := x.num(m[0])
			dd, _ := x.num(m[3])
			if a != 0 && !math.IsNaN(a) && !math.IsInf(a, 0) {
				f.scale, fm0 = math.Abs(a), a
			}
			if dd != 0 && !math.IsNaN(dd) && !math.IsInf(dd, 0) {
				fm3 = dd
			}
		}
		defer func() {
			f.missing = 0.5 / f.scale
			f.sizeScale = type3SizeScale(f, names, fm0, fm3)
		}()
	}
	base := x.name(d["BaseFont"])
	if i := strings.IndexByte(base, '+'); i == 6 {
		base = base[i+1:]
	}
	core := coreFontName(base)
	desc := x.dict(d["FontDescriptor"])
	if mw, ok := x.num(desc["MissingWidth"]); ok && mw >= 0 {
		f.missing = mw
	}
	f.enc, names = x.simpleEncoding(d, desc, core)
	if fc, ok := x.num(d["FirstChar"]); ok && fc >= 0 && fc < 256 {
		f.firstChar = int(fc)
	}
	if w := x.array(d["Widths"]); len(w) > 0 {
		f.widths = make([]float64, min(len(w), 256))
		for i := range f.widths {
			f.widths[i], _ = x.num(w[i])
		}
	} else if core != "" {
		// Standard 14 fonts may omit Widths; take the AFM metrics.
		f.firstChar = 0
		f.widths = make([]float64, 256)
		for c := range f.widths {
			code := c
			if t := f.enc[c]; len(t) == 1 {
				code = int(t[0])
			}
			if w, err := pdffont.CharWidth(core, rune(code)); err == nil {
				f.widths[c] = float64(w)
			}
		}
	}
	return f
}

// coreFontName maps a BaseFont to one of the standard 14 fonts, including
// the Windows names producers use for them, or "".
func coreFontName(base string) string {
	if pdffont.IsCoreFont(base) {
		return base
	}
	n := strings.NewReplacer(" ", "", "-", "", ",", "").Replace(base)
	style := ""
	switch {
	case strings.HasSuffix(n, "BoldItalic") || strings.HasSuffix(n, "BoldOblique"):
		style = "BI"
	case strings.HasSuffix(n, "Bold"):
		style = "B"
	case strings.HasSuffix(n, "Italic") || strings.HasSuffix(n, "Oblique"):
		style = "I"
	}
	var fam [4]string
	switch {
	case strings.HasPrefix(n, "Arial") || strings.HasPrefix(n, "Helvetica"):
		fam = [4]string{"Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique"}
	case strings.HasPrefix(n, "Times"):
		fam = [4]string{"Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic"}
	case strings.HasPrefix(n, "Courier"):
		fam = [4]string{"Courier", "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique"}
	case strings.HasPrefix(n, "Symbol"):
		return "Symbol"
	default:
		return ""
	}
	switch style {
	case "B":
		return fam[1]
	case "I":
		return fam[2]
	case "BI":
		return fam[3]
	}
	return fam[0]
}

// simpleEncoding resolves Encoding, BaseEncoding, the font's built-in
// encoding and Differences into one code-to-text table. names holds the
// Differences' glyph names by code.
func (x *extractor) simpleEncoding(d, desc types.Dict, core string) (enc *encoding, names *[256]string) {
	var base *encoding
	var diffs types.Array
	switch e := x.resolve(d["Encoding"]).(type) {
	case types.Name:
		base = baseEncoding(string(e))
	case types.Dict:
		base = baseEncoding(x.name(e["BaseEncoding"]))
		diffs = x.array(e["Differences"])
	}
	if base == nil {
		base = x.builtinEncoding(d, desc, core)
	}
	enc = new(encoding)
	*enc = *base
	names = new([256]string)
	code := -1
	for _, o := range diffs {
		switch v := x.resolve(o).(type) {
		case types.Integer:
			code = int(v)
		case types.Float:
			code = int(v)
		case types.Name:
			if code >= 0 && code < 256 {
				names[code] = string(v)
			}
			code++
		}
	}
	hex := hexCharNames(names)
	for code, n := range names {
		if n == "" {
			continue
		}
		// pdftotext keeps the code's own character for names it does not
		// know, symbol fonts rely on that; and it reads numeric names
		// ("a97", "g3A", "c231", as dvips gives bitmap fonts) as the
		// character with that number.
		if t, ok := glyphLookup(n); ok {
			enc[code] = t
		} else if u, ok := numericCharName(n, hex); ok {
			enc[code] = string(rune(u))
		} else if code >= 0x21 && code < 0x7F {
			enc[code] = string(rune(code))
		}
	}
	return enc, names
}

// hexCharNames tells, as poppler does, whether a font's numeric glyph
// names are hexadecimal: some name is a letter and two hex digits of
// which one is a letter ("gA3").
func hexCharNames(names *[256]string) bool {
	for _, n := range names {
		if len(n) == 3 && isAlpha(n[0]) && isHex(n[1]) && isHex(n[2]) && (isAlpha(n[1]) || isAlpha(n[2])) {
			return true
		}
	}
	return false
}

// numericCharName parses a glyph name made of up to two letters and a
// number, poppler's parseNumericName.
func numericCharName(n string, hex bool) (rune, bool) {
	if hex {
		if len(n) == 3 && isAlpha(n[0]) {
			n = n[1:]
		} else if len(n) != 2 {
			return 0, false
		}
		v, err := strconv.ParseUint(n, 16, 8)
		return rune(v), err == nil
	}
	for i := 0; i < 2 && len(n) > 0 && isAlpha(n[0]); i++ {
		n = n[1:]
	}
	v, err := strconv.ParseUint(n, 10, 32)
	if err != nil || v < 0x20 || v > unicode.MaxRune || v >= 0xD800 && v < 0xE000 {
		return 0, false
	}
	return rune(v), true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isHex(c byte) bool   { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// type3SizeScale guesses how much larger than its nominal size a Type 3
// font draws, since only rendering could tell what its glyph space is:
// pdftotext's guess, from the width of an "m" (0.6 em), or else of a
// letter or any glyph (0.5 em), times the FontMatrix's aspect.
func type3SizeScale(f *font, names *[256]string, fm0, fm3 float64) float64 {
	width := func(c int) float64 {
		if i := c - f.firstChar; i >= 0 && i < len(f.widths) {
			return f.widths[i] * math.Abs(fm0)
		}
		return 0
	}
	mCode, letter, anyCode := -1, -1, -1
	for c, n := range names {
		if n == "" {
			continue
		}
		if n == "m" {
			mCode = c
		}
		if letter < 0 && len(n) == 1 && isAlpha(n[0]) {
			letter = c
		}
		if anyCode < 0 && width(c) > 0 {
			anyCode = c
		}
	}
	scale := 1.0
	switch {
	case mCode >= 0 && width(mCode) > 0:
		scale = width(mCode) / 0.6
	case letter >= 0 && width(letter) > 0:
		scale = width(letter) / 0.5
	case anyCode >= 0:
		scale = width(anyCode) / 0.5
	}
	if fm0 != 0 {
		scale *= math.Abs(fm3 / fm0)
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) {
		return 1
	}
	return math.Min(math.Max(scale, 0.01), 100)
}

// builtinEncoding is the encoding of the font program itself: the
// Encoding array of an embedded Type 1 font, Symbol's own table, or
// StandardEncoding as the spec's default.
func (x *extractor) builtinEncoding(d, desc types.Dict, core string) *encoding {
	if core == "Symbol" {
		return baseEncoding("Symbol")
	}
	// A symbolic TrueType font maps codes straight to glyphs; with a
	// ToUnicode map, codes it leaves out (parts of shaped clusters) have
	// no text of their own.
	if flags, _ := x.num(desc["Flags"]); int(flags)&4 != 0 && x.name(d["Subtype"]) == "TrueType" && d["ToUnicode"] != nil {
		return new(encoding)
	}
	if ff := x.stream(desc["FontFile"]); ff != nil {
		if data := x.decode(ff); data != nil {
			if enc := type1Encoding(data); enc != nil {
				return enc
			}
		}
	}
	if ff := x.stream(desc["FontFile3"]); ff != nil && x.name(ff.Dict["Subtype"]) == "Type1C" {
		if data := x.decode(ff); data != nil {
			if enc := cffEncoding(data); enc != nil {
				return enc
			}
		}
	}
	return baseEncoding("StandardEncoding")
}

// type1Encoding reads "dup code /name put" entries from the clear-text
// part of a Type 1 font program.
func type1Encoding(data []byte) *encoding {
	i := bytes.Index(data, []byte("/Encoding"))
	if i < 0 {
		return nil
	}
	data = data[i+len("/Encoding"):]
	if end := bytes.Index(data, []byte("eexec")); end >= 0 {
		data = data[:end]
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("StandardEncoding")) {
		return nil
	}
	enc := new(encoding)
	found := false
	l := &lexer{data: data}
	var stack []object
	for {
		k, o, op := l.next(0)
		if k == tokEOF {
			break
		}
		if k == tokOperand {
			stack = append(stack, o)
			continue
		}
		if k != tokOp {
			continue
		}
		if string(op) == "put" && len(stack) >= 2 {
			c, n := stack[len(stack)-2], stack[len(stack)-1]
			if c.kind == objNumber && n.kind == objName && c.num >= 0 && c.num < 256 {
				enc[int(c.num)] = glyphText(string(n.str))
				found = true
			}
		}
		if string(op) == "def" && found {
			break
		}
		stack = stack[:0]
	}
	if !found {
		return nil
	}
	return enc
}

// loadCIDFont fills in the Type0 parts: encoding CMap and CID widths.
func (x *extractor) loadCIDFont(f *font, d types.Dict) {
	switch e := x.resolve(d["Encoding"]).(type) {
	case types.Name:
		name := string(e)
		f.vertical = strings.HasSuffix(name, "-V")
		f.ucs = predefinedUCS(name)
	case types.StreamDict:
		if data := x.decode(&e); data != nil {
			f.codec = parseCMap(data)
			if wm, ok := x.num(e.Dict["WMode"]); ok && wm == 1 {
				f.vertical = true
			}
		}
	}
	desc := x.array(d["DescendantFonts"])
	if len(desc) == 0 {
		return
	}
	cd := x.dict(desc[0])
	if !f.ucs {
		x.cidFallback(f, cd, f.toUni == nil)
	}
	if dw, ok := x.num(cd["DW"]); ok && dw > 0 {
		f.dw = dw
	}
	w := x.array(cd["W"])
	if len(w) == 0 {
		return
	}
	f.cidW, f.wRanges = cidWidths(w, x.num, x.array)
}

// wRange gives CIDs lo..hi one width.
type wRange struct {
	lo, hi uint32
	w      float64
}

// Bounds on a W array: individually listed widths are kept in a map,
// "first last width" runs as ranges; whatever lies beyond is ignored.
const (
	maxCIDWidths = 1 << 20
	maxWRanges   = 1 << 14
)

// cidWidths reads a CIDFont W array. CIDs outside 0..2^32-1 are ignored:
// a run starting at 2^53 must not spin a float counter that no longer
// changes when incremented.
func cidWidths(w types.Array, num func(types.Object) (float64, bool), array func(types.Object) types.Array) (map[uint32]float64, []wRange) {
	widths := map[uint32]float64{}
	var ranges []wRange
	validCID := func(v float64) bool { return v >= 0 && v <= math.MaxUint32 }
	for i := 0; i < len(w); {
		first, ok := num(w[i])
		if !ok || !validCID(first) || i+1 >= len(w) {
			break
		}
		if arr := array(w[i+1]); arr != nil {
			for j, o := range arr {
				c := uint64(first) + uint64(j)
				if c > math.MaxUint32 || len(widths) >= maxCIDWidths {
					break
				}
				if v, ok := num(o); ok {
					widths[uint32(c)] = v
				}
			}
			i += 2
			continue
		}
		if i+2 >= len(w) {
			break
		}
		last, ok := num(w[i+1])
		v, _ := num(w[i+2])
		if ok && validCID(last) && last >= first && len(ranges) < maxWRanges {
			ranges = append(ranges, wRange{lo: uint32(first), hi: uint32(last), w: v})
		}
		i += 3
	}
	sort.SliceStable(ranges, func(i, j int) bool { return ranges[i].lo < ranges[j].lo })
	return widths, ranges
}

// glyph is one decoded character code.
type glyph struct {
	text  string
	width float64 // advance in text space units (before font size)
	space bool    // single-byte code 32, which takes word spacing
}

// decode splits s into codes and calls fn for each.
func (f *font) decode(s []byte, fn func(g glyph)) {
	for len(s) > 0 {
		var code uint32
		var n int
		if f.kind == fontCID {
			code, n = f.codec.nextCode(s, 2)
		} else {
			code, n = uint32(s[0]), 1
		}
		if n <= 0 {
			n = 1
		}
		s = s[n:]
		fn(glyph{text: f.text(code), width: f.width(code) * f.scale, space: n == 1 && code == 32})
	}
}

func (f *font) text(code uint32) string {
	if f.toUni != nil {
		if t, ok := f.toUni.lookup(code); ok {
			return truncateText(t, maxCodeText)
		}
	}
	return f.encodedText(code)
}

// encodedText is a code's text from the font's encoding, its character
// collection or its embedded cmap, without ToUnicode.
func (f *font) encodedText(code uint32) string {
	switch {
	case f.kind != fontCID && code < 256:
		if f.enc != nil {
			return f.enc[code]
		}
		// The fallback font (a missing font resource) reads as Latin text.
		return baseEncoding("WinAnsiEncoding")[code]
	case f.ucs:
		return string(rune(code))
	case f.collection >= 0 || f.gidText != nil:
		cid := code
		if f.codec != nil {
			cid = f.codec.cid(code)
		}
		if f.collection >= 0 {
			return cidToUnicode(f.collection, cid)
		}
		gid := cid
		if f.cidToGID != nil {
			if int(cid) >= len(f.cidToGID) {
				return ""
			}
			gid = uint32(f.cidToGID[cid])
		}
		if r, ok := f.gidText[uint16(gid)]; ok && gid <= 0xFFFF {
			return string(r)
		}
	}
	return ""
}

func (f *font) width(code uint32) float64 {
	if f.kind == fontCID {
		cid := code
		if f.codec != nil {
			cid = f.codec.cid(code)
		}
		if w, ok := f.cidW[cid]; ok {
			return w
		}
		i := sort.Search(len(f.wRanges), func(i int) bool { return f.wRanges[i].lo > cid })
		for k := i - 1; k >= 0 && k >= i-8; k-- {
			if r := f.wRanges[k]; cid <= r.hi {
				return r.w
			}
		}
		return f.dw
	}
	if i := int(code) - f.firstChar; i >= 0 && i < len(f.widths) {
		return f.widths[i]
	}
	return f.missing
}
