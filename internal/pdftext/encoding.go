package pdftext

import (
	"strings"
	"sync"

	"golang.org/x/text/encoding/charmap"
)

// encoding maps the single-byte codes of a simple font to text.
type encoding [256]string

// standardHigh lists the codes of Adobe StandardEncoding above ASCII by
// glyph name; the ASCII half differs only in the two quotes.
var standardHigh = map[byte]string{
	0xA1: "exclamdown", 0xA2: "cent", 0xA3: "sterling", 0xA4: "fraction", 0xA5: "yen",
	0xA6: "florin", 0xA7: "section", 0xA8: "currency", 0xA9: "quotesingle",
	0xAA: "quotedblleft", 0xAB: "guillemotleft", 0xAC: "guilsinglleft",
	0xAD: "guilsinglright", 0xAE: "fi", 0xAF: "fl", 0xB1: "endash", 0xB2: "dagger",
	0xB3: "daggerdbl", 0xB4: "periodcentered", 0xB6: "paragraph", 0xB7: "bullet",
	0xB8: "quotesinglbase", 0xB9: "quotedblbase", 0xBA: "quotedblright",
	0xBB: "guillemotright", 0xBC: "ellipsis", 0xBD: "perthousand", 0xBF: "questiondown",
	0xC1: "grave", 0xC2: "acute", 0xC3: "circumflex", 0xC4: "tilde", 0xC5: "macron",
	0xC6: "breve", 0xC7: "dotaccent", 0xC8: "dieresis", 0xCA: "ring", 0xCB: "cedilla",
	0xCD: "hungarumlaut", 0xCE: "ogonek", 0xCF: "caron", 0xD0: "emdash", 0xE1: "AE",
	0xE3: "ordfeminine", 0xE8: "Lslash", 0xE9: "Oslash", 0xEA: "OE", 0xEB: "ordmasculine",
	0xF1: "ae", 0xF5: "dotlessi", 0xF8: "lslash", 0xF9: "oslash", 0xFA: "oe", 0xFB: "germandbls",
}

// symbolNames is the Symbol font's built-in encoding (the parts with text
// value; the rest are drawing pieces of large brackets and the like).
var symbolNames = map[byte]string{
	0x22: "universal", 0x24: "existential", 0x27: "suchthat", 0x2A: "asteriskmath",
	0x2D: "minus", 0x40: "congruent", 0x41: "Alpha", 0x42: "Beta", 0x43: "Chi",
	0x44: "Delta", 0x45: "Epsilon", 0x46: "Phi", 0x47: "Gamma", 0x48: "Eta",
	0x49: "Iota", 0x4A: "theta1", 0x4B: "Kappa", 0x4C: "Lambda", 0x4D: "Mu",
	0x4E: "Nu", 0x4F: "Omicron", 0x50: "Pi", 0x51: "Theta", 0x52: "Rho",
	0x53: "Sigma", 0x54: "Tau", 0x55: "Upsilon", 0x56: "sigma1", 0x57: "Omega",
	0x58: "Xi", 0x59: "Psi", 0x5A: "Zeta", 0x5C: "therefore", 0x5E: "perpendicular",
	0x61: "alpha", 0x62: "beta", 0x63: "chi", 0x64: "delta", 0x65: "epsilon",
	0x66: "phi", 0x67: "gamma", 0x68: "eta", 0x69: "iota", 0x6A: "phi1",
	0x6B: "kappa", 0x6C: "lambda", 0x6D: "mu", 0x6E: "nu", 0x6F: "omicron",
	0x70: "pi", 0x71: "theta", 0x72: "rho", 0x73: "sigma", 0x74: "tau",
	0x75: "upsilon", 0x76: "omega1", 0x77: "omega", 0x78: "xi", 0x79: "psi",
	0x7A: "zeta", 0x7E: "similar", 0xA0: "Euro", 0xA1: "Upsilon1", 0xA2: "minute",
	0xA3: "lessequal", 0xA4: "fraction", 0xA5: "infinity", 0xA6: "florin",
	0xA7: "club", 0xA8: "diamond", 0xA9: "heart", 0xAA: "spade", 0xAB: "arrowboth",
	0xAC: "arrowleft", 0xAD: "arrowup", 0xAE: "arrowright", 0xAF: "arrowdown",
	0xB0: "degree", 0xB1: "plusminus", 0xB2: "second", 0xB3: "greaterequal",
	0xB4: "multiply", 0xB5: "proportional", 0xB6: "partialdiff", 0xB7: "bullet",
	0xB8: "divide", 0xB9: "notequal", 0xBA: "equivalence", 0xBB: "approxequal",
	0xBC: "ellipsis", 0xBF: "carriagereturn", 0xC0: "aleph", 0xC1: "Ifraktur",
	0xC2: "Rfraktur", 0xC3: "weierstrass", 0xC4: "circlemultiply", 0xC5: "circleplus",
	0xC6: "emptyset", 0xC7: "intersection", 0xC8: "union", 0xC9: "propersuperset",
	0xCA: "reflexsuperset", 0xCC: "propersubset", 0xCD: "reflexsubset",
	0xCE: "element", 0xCF: "notelement", 0xD0: "angle", 0xD1: "gradient",
	0xD2: "registerserif", 0xD3: "copyrightserif", 0xD4: "trademarkserif",
	0xD5: "product", 0xD6: "radical", 0xD7: "dotmath", 0xD8: "logicalnot",
	0xD9: "logicaland", 0xDA: "logicalor", 0xDB: "arrowdblboth", 0xDC: "arrowdblleft",
	0xDD: "arrowdblup", 0xDE: "arrowdblright", 0xDF: "arrowdbldown", 0xE0: "lozenge",
	0xE1: "angleleft", 0xE5: "summation", 0xF1: "angleright", 0xF2: "integral",
}

// pdfDocHigh holds the PDFDocEncoding codes that differ from Latin-1.
var pdfDocHigh = map[byte]rune{
	0x18: '˘', 0x19: 'ˇ', 0x1A: 'ˆ', 0x1B: '˙', 0x1C: '˝', 0x1D: '˛', 0x1E: '˚', 0x1F: '˜',
	0x80: '•', 0x81: '†', 0x82: '‡', 0x83: '…', 0x84: '—', 0x85: '–', 0x86: 'ƒ',
	0x87: '⁄', 0x88: '‹', 0x89: '›', 0x8A: '−', 0x8B: '‰', 0x8C: '„', 0x8D: '“',
	0x8E: '”', 0x8F: '‘', 0x90: '’', 0x91: '‚', 0x92: '™', 0x93: 'ﬁ', 0x94: 'ﬂ',
	0x95: 'Ł', 0x96: 'Œ', 0x97: 'Š', 0x98: 'Ÿ', 0x99: 'Ž', 0x9A: 'ı', 0x9B: 'ł',
	0x9C: 'œ', 0x9D: 'š', 0x9E: 'ž', 0xA0: '€',
}

var (
	encOnce                                      sync.Once
	stdEnc, winEnc, macEnc, pdfDocEnc, symbolEnc *encoding
)

func initEncodings() {
	stdEnc, winEnc, macEnc, pdfDocEnc, symbolEnc = new(encoding), new(encoding), new(encoding), new(encoding), new(encoding)
	for c := 0x20; c < 0x7F; c++ {
		stdEnc[c] = string(rune(c))
		symbolEnc[c] = string(rune(c))
	}
	stdEnc['\''] = "\u2019"
	stdEnc['`'] = "\u2018"
	for c, n := range standardHigh {
		stdEnc[c] = glyphText(n)
	}
	for c, n := range symbolNames {
		symbolEnc[c] = glyphText(n)
	}
	for c := 0x20; c < 256; c++ {
		if c == 0x7F {
			continue
		}
		winEnc[c] = string(charmap.Windows1252.DecodeByte(byte(c)))
		macEnc[c] = string(charmap.Macintosh.DecodeByte(byte(c)))
		pdfDocEnc[c] = string(rune(c))
	}
	// WinAnsiEncoding shows a bullet for the codes cp1252 leaves undefined,
	// and its 0xAD is an ordinary hyphen.
	for _, c := range []byte{0x81, 0x8D, 0x8F, 0x90, 0x9D} {
		winEnc[c] = "•"
	}
	winEnc[0xAD] = "-"
	winEnc[0xA0] = " "
	macEnc[0xCA] = " "
	for c, r := range pdfDocHigh {
		pdfDocEnc[c] = string(r)
	}
}

// baseEncoding returns the named predefined encoding, or nil.
func baseEncoding(name string) *encoding {
	encOnce.Do(initEncodings)
	switch name {
	case "StandardEncoding":
		return stdEnc
	case "WinAnsiEncoding":
		return winEnc
	case "MacRomanEncoding", "MacExpertEncoding":
		return macEnc
	case "PDFDocEncoding":
		return pdfDocEnc
	case "Symbol":
		return symbolEnc
	}
	return nil
}

// textString decodes a PDF text string: UTF-16 with a byte order mark,
// UTF-8 with one (PDF 2.0), or PDFDocEncoding.
func textString(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		return utf16Text(b[2:])
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		sw := make([]byte, 0, len(b)-2)
		for i := 2; i+1 < len(b); i += 2 {
			sw = append(sw, b[i+1], b[i])
		}
		return utf16Text(sw)
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		return string(b[3:])
	}
	enc := baseEncoding("PDFDocEncoding")
	var sb strings.Builder
	for _, c := range b {
		if t := enc[c]; t != "" {
			sb.WriteString(t)
		} else {
			sb.WriteByte(' ')
		}
	}
	return sb.String()
}
