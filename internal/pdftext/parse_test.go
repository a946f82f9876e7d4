package pdftext

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// lexAll returns operands and operators as readable strings.
func lexAll(src string) []string {
	l := &lexer{data: []byte(src)}
	var out []string
	for {
		k, o, op := l.next(0)
		switch k {
		case tokEOF:
			return out
		case tokOp:
			out = append(out, "op:"+string(op))
			if string(op) == "BI" {
				l.skipInlineImage()
			}
		case tokOperand:
			out = append(out, showObj(o))
		}
	}
}

func showObj(o object) string {
	switch o.kind {
	case objNumber:
		return "n:" + strconv.FormatFloat(o.num, 'g', -1, 64)
	case objString:
		return "s:" + string(o.str)
	case objName:
		return "/" + string(o.str)
	case objArray, objDict:
		var parts []string
		for _, e := range o.arr {
			parts = append(parts, showObj(e))
		}
		if o.kind == objDict {
			return "<<" + strings.Join(parts, " ") + ">>"
		}
		return "[" + strings.Join(parts, " ") + "]"
	case objBool:
		return "bool"
	}
	return "null"
}

func TestLexer(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"1 -2 +3.5 .5 -.25 4. 0", "n:1 n:-2 n:3.5 n:0.5 n:-0.25 n:4 n:0"},
		{`(a\(b\)c\\d\n\101\0611\7)`, "s:a(b)c\\d\nA11\a"},
		{"(nested (parens) ok)", "s:nested (parens) ok"},
		{"(line\\\ncontinued)", "s:linecontinued"},
		{"<48 65 6C6c 6>", "s:Hell`"},
		{"/Name /A#20B /", "/Name /A B /"},
		{"[1 (x) /N [2]] TJ", "[n:1 s:x /N [n:2]] op:TJ"},
		{"<< /ActualText (hi) /K 3 >> BDC", "<</ActualText s:hi /K n:3>> op:BDC"},
		{"% comment (ignored)\n1 0 0 1 0 0 cm", "n:1 n:0 n:0 n:1 n:0 n:0 op:cm"},
		{"BI /W 2 /H 2 ID \x00\xffEI\x01 EI Q", "op:BI op:Q"},
		{"true false null T*", "bool bool null op:T*"},
		{") } { ] >> q", "op:q"},
	} {
		got := strings.Join(lexAll(tc.src), " ")
		if got != tc.want {
			t.Errorf("lex %q:\n got %q\nwant %q", tc.src, got, tc.want)
		}
	}
}

func TestLexerNestingBound(t *testing.T) {
	src := strings.Repeat("[", 100000) + "1" + strings.Repeat("]", 100000)
	lexAll(src) // must neither overflow the stack nor hang
}

func TestCMap(t *testing.T) {
	cm := parseCMap([]byte(`
1 begincodespacerange <0000> <FFFF> endcodespacerange
2 beginbfchar <0003> <0041> <0004> <00660069> endbfchar
3 beginbfrange
<0010> <0012> <0061>
<0020> <0021> [<0058> <D835DC00>]
<00FE> <0100> <0030>
endbfrange
1 beginbfchar <0005> /Euro endbfchar`))
	for code, want := range map[uint32]string{
		3: "A", 4: "fi", 0x10: "a", 0x12: "c", 0x20: "X", 0x21: "\U0001D400",
		0xFE: "0", 0x100: "2", 5: "€",
	} {
		if got, ok := cm.lookup(code); !ok || got != want {
			t.Errorf("code %#x: got %q, %v; want %q", code, got, ok, want)
		}
	}
	if _, ok := cm.lookup(0x22); ok {
		t.Error("code 0x22 should be unmapped")
	}
	code, n := cm.nextCode([]byte{0x00, 0x10, 0x00}, 1)
	if code != 0x10 || n != 2 {
		t.Errorf("nextCode: %#x, %d", code, n)
	}
}

func TestCMapMixedWidthCodes(t *testing.T) {
	cm := parseCMap([]byte(`2 begincodespacerange <00> <80> <8140> <9FFC> endcodespacerange
100 begincidrange <8140> <817E> 633 endcidrange`))
	s := []byte{0x41, 0x81, 0x41, 0x42}
	var codes []uint32
	for len(s) > 0 {
		c, n := cm.nextCode(s, 2)
		codes = append(codes, c)
		s = s[n:]
	}
	if len(codes) != 3 || codes[0] != 0x41 || codes[1] != 0x8141 || codes[2] != 0x42 {
		t.Errorf("codes %x", codes)
	}
	if cid := cm.cid(0x8141); cid != 634 {
		t.Errorf("cid %d", cid)
	}
}

func TestGlyphNames(t *testing.T) {
	for name, want := range map[string]string{
		"A": "A", "eacute": "é", "Scaron": "Š", "dotlessi": "ı", "fi": "fi", "ffi": "ffi",
		"f_f_i": "ffi", "uni0041": "A", "uni00660069": "fi", "u1D400": "\U0001D400",
		"afii10017": "А", "afii10071": "ё", "afii10097": "я", "a.sc": "a", "quoteright": "’",
		"Omega": "Ω", "germandbls": "ß", "Aring": "Å", "zcaron": "ž", ".notdef": "",
	} {
		if got := glyphText(name); got != want {
			t.Errorf("%s: got %q want %q", name, got, want)
		}
	}
	if _, ok := glyphLookup("g123"); ok {
		t.Error("g123 should be unknown")
	}
}

func TestType1BuiltinEncoding(t *testing.T) {
	prog := []byte("%!PS-AdobeFont-1.0: CMR10\n/Encoding 256 array\n0 1 255 {1 index exch /.notdef put} for\n" +
		"dup 11 /ff put\ndup 12 /fi put\ndup 65 /A put\nreadonly def\ncurrentfile eexec\x80\x81")
	enc := type1Encoding(prog)
	if enc == nil || enc[11] != "ff" || enc[12] != "fi" || enc[65] != "A" || enc[66] != "" {
		t.Fatalf("encoding: %v", enc)
	}
	if type1Encoding([]byte("/Encoding StandardEncoding def")) != nil {
		t.Error("StandardEncoding should fall back to the base table")
	}
}

func TestTextString(t *testing.T) {
	if s := textString([]byte{0xFE, 0xFF, 0x09, 0x36, 0x09, 0x3F}); s != "शि" {
		t.Errorf("utf16: %q", s)
	}
	if s := textString([]byte("caf\xe9 \x93")); s != "café ﬁ" {
		t.Errorf("pdfdoc: %q", s)
	}
}

// runContent interprets a content stream with no resources and lays it out.
func runContent(t testing.TB, content string) string {
	x := &extractor{ctx: context.Background(), lim: DefaultLimits, active: map[int]bool{}}
	out := &pageOut{}
	in := x.newInterp(out, nil, gstate{ctm: identity, hscale: 1}, 0)
	if err := in.run([]byte(content)); err != nil {
		t.Fatal(err)
	}
	text, err := layoutPage(x.ctx, out.glyphs)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestLayout(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"words and lines", "BT /F1 10 Tf 72 700 Td (Hello World) Tj 0 -14 Td (Next line) Tj ET", "Hello World\nNext line"},
		{"TJ kerning", "BT /F1 10 Tf 72 700 Td [(Wo) 50 (rd) -400 (gap)] TJ ET", "Word gap"},
		{"order by position", "BT /F1 10 Tf 72 600 Td (second) Tj 0 100 Td (first) Tj ET", "first\nsecond"},
		{"same line out of order", "BT /F1 10 Tf 200 700 Td (right) Tj -150 0 Td (left) Tj ET", "left right"},
		{"quote operators", "BT /F1 10 Tf 12 TL 72 700 Td (a) Tj (b) ' 1 2 (c) \" ET", "a\nb\nc"},
		{"dehyphenation", "BT /F1 10 Tf 72 700 Td (extrac-) Tj 0 -12 Td (tion works) Tj ET", "extraction works"},
		{"rotated page text", "BT /F1 10 Tf 0 1 -1 0 300 100 Tm (Up) Tj ET", "Up"},
		{"fake bold", "BT /F1 10 Tf 72 700 Td (Bold) Tj 1 0 0 1 72.3 700 Tm (Bold) Tj ET", "Bold"},
		{"actual text", "BT /F1 10 Tf 72 700 Td /Span <</ActualText <FEFF0041>>> BDC (xyz) Tj EMC ( b) Tj ET", "A b"},
	} {
		if got := runContent(t, tc.content); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"a\x01b\x7fc\u0090d": "abcd", "\ufb01nd \ufb03x": "find ffix", "tab\there": "tab here",
		"soft\u00adhy": "soft-hy", "bom\ufeff\ufffd": "bom", "plain": "plain",
	} {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
