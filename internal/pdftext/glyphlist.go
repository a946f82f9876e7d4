package pdftext

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// glyphNames maps the glyph names that occur in real fonts' encodings to
// text. It is not the whole Adobe Glyph List: accented Latin letters are
// composed from their parts (see accentMarks), uniXXXX/uXXXX names and
// Cyrillic afii names are computed, and ligatures map to their letters
// because that is what readers (and pdftotext) produce.
var glyphNames = map[string]string{
	"space": " ", "exclam": "!", "quotedbl": "\"", "numbersign": "#", "dollar": "$",
	"percent": "%", "ampersand": "&", "quoteright": "\u2019", "quotesingle": "'",
	"parenleft": "(", "parenright": ")", "asterisk": "*", "plus": "+", "comma": ",",
	"hyphen": "-", "period": ".", "slash": "/", "zero": "0", "one": "1", "two": "2",
	"three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
	"nine": "9", "colon": ":", "semicolon": ";", "less": "<", "equal": "=",
	"greater": ">", "question": "?", "at": "@", "bracketleft": "[", "backslash": "\\",
	"bracketright": "]", "asciicircum": "^", "underscore": "_", "quoteleft": "\u2018",
	"grave": "`", "braceleft": "{", "bar": "|", "braceright": "}", "asciitilde": "~",
	"exclamdown": "¡", "cent": "¢", "sterling": "£", "fraction": "\u2044", "yen": "¥",
	"florin": "ƒ", "section": "§", "currency": "¤", "quotedblleft": "\u201c",
	"guillemotleft": "«", "guilsinglleft": "‹", "guilsinglright": "›",
	"endash": "–", "dagger": "†", "daggerdbl": "‡", "periodcentered": "·",
	"paragraph": "¶", "bullet": "•", "quotesinglbase": "‚", "quotedblbase": "„",
	"quotedblright": "\u201d", "guillemotright": "»", "ellipsis": "…",
	"perthousand": "‰", "questiondown": "¿", "acute": "´", "circumflex": "ˆ",
	"tilde": "˜", "macron": "¯", "breve": "˘", "dotaccent": "˙", "dieresis": "¨",
	"ring": "˚", "cedilla": "¸", "hungarumlaut": "˝", "ogonek": "˛", "caron": "ˇ",
	"emdash": "—", "AE": "Æ", "ordfeminine": "ª", "Lslash": "Ł", "Oslash": "Ø",
	"OE": "Œ", "ordmasculine": "º", "ae": "æ", "dotlessi": "ı", "dotlessj": "ȷ",
	"lslash": "ł", "oslash": "ø", "oe": "œ", "germandbls": "ß", "Eth": "Ð", "eth": "ð",
	"Thorn": "Þ", "thorn": "þ", "Euro": "€", "brokenbar": "¦", "copyright": "©",
	"registered": "®", "trademark": "™", "logicalnot": "¬", "degree": "°",
	"plusminus": "±", "twosuperior": "²", "threesuperior": "³", "onesuperior": "¹",
	"mu": "µ", "multiply": "×", "divide": "÷", "onehalf": "½", "onequarter": "¼",
	"threequarters": "¾", "minus": "−", "nbspace": " ", "sfthyphen": "-",
	"softhyphen": "-", "Dcroat": "Đ", "dcroat": "đ", "Hbar": "Ħ", "hbar": "ħ",
	"IJ": "Ĳ", "ij": "ĳ", "kgreenlandic": "ĸ", "Ldot": "Ŀ", "ldot": "ŀ",
	"napostrophe": "ŉ", "Eng": "Ŋ", "eng": "ŋ", "Tbar": "Ŧ", "tbar": "ŧ",
	"longs": "ſ", "Schwa": "Ə", "schwa": "ə", "Oslashacute": "Ǿ", "oslashacute": "ǿ",
	"AEacute": "Ǽ", "aeacute": "ǽ", "dotlessi.sc": "ı",
	// Ligatures decompose, as pdftotext does.
	"ff": "ff", "fi": "fi", "fl": "fl", "ffi": "ffi", "ffl": "ffl", "st": "st", "longst": "st",
	// Typography and symbols.
	"figuredash": "‒", "quotereversed": "‛", "minute": "′", "second": "″",
	"visiblespace": "␣", "compwordmark": "", "cwm": "", "suppress": "",
	"openbullet": "◦", "lozenge": "◊", "dotmath": "⋅", "asteriskmath": "∗",
	"arrowright": "→", "arrowleft": "←", "arrowup": "↑", "arrowdown": "↓",
	"arrowboth": "↔", "arrowdblright": "⇒", "arrowdblleft": "⇐", "arrowdblboth": "⇔",
	"arrowdblup": "⇑", "arrowdbldown": "⇓", "infinity": "∞", "partialdiff": "∂",
	"summation": "∑", "product": "∏", "radical": "√", "integral": "∫",
	"approxequal": "≈", "notequal": "≠", "lessequal": "≤", "greaterequal": "≥",
	"equivalence": "≡", "proportional": "∝", "element": "∈", "notelement": "∉",
	"intersection": "∩", "union": "∪", "logicaland": "∧", "logicalor": "∨",
	"universal": "∀", "existential": "∃", "emptyset": "∅", "gradient": "∇",
	"angle": "∠", "angleleft": "〈", "angleright": "〉", "angbracketleft": "⟨",
	"angbracketright": "⟩", "circleplus": "⊕", "circlemultiply": "⊗",
	"perpendicular": "⊥", "similar": "∼", "congruent": "≅", "therefore": "∴",
	"suchthat": "∋", "propersubset": "⊂", "propersuperset": "⊃",
	"reflexsubset": "⊆", "reflexsuperset": "⊇", "club": "♣", "diamond": "♦",
	"heart": "♥", "spade": "♠", "aleph": "ℵ", "Ifraktur": "ℑ", "Rfraktur": "ℜ",
	"weierstrass": "℘", "carriagereturn": "↵", "registerserif": "®",
	"copyrightserif": "©", "trademarkserif": "™", "registersans": "®",
	"copyrightsans": "©", "trademarksans": "™", "diamondmath": "⋄",
	"minusplus": "∓", "backslashBig": "\\", "prime": "′", "degreecentigrade": "℃",
	"estimated": "℮", "numero": "№", "afii61352": "№", "commaaccent": ",",
	"uni00A0": " ", "uni00AD": "-", "dbllowline": "‗", "house": "⌂",
	"filledbox": "■", "filledrect": "▬", "triagup": "▲", "triagdn": "▼",
	"circle": "○", "invbullet": "◘", "smileface": "☺", "checkmark": "✓",
	// Greek, as in the Symbol font and TeX math fonts.
	"Alpha": "Α", "Beta": "Β", "Gamma": "Γ", "Delta": "Δ", "Epsilon": "Ε",
	"Zeta": "Ζ", "Eta": "Η", "Theta": "Θ", "Iota": "Ι", "Kappa": "Κ",
	"Lambda": "Λ", "Mu": "Μ", "Nu": "Ν", "Xi": "Ξ", "Omicron": "Ο", "Pi": "Π",
	"Rho": "Ρ", "Sigma": "Σ", "Tau": "Τ", "Upsilon": "Υ", "Phi": "Φ", "Chi": "Χ",
	"Psi": "Ψ", "Omega": "Ω", "alpha": "α", "beta": "β", "gamma": "γ",
	"delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ",
	"iota": "ι", "kappa": "κ", "lambda": "λ", "nu": "ν", "xi": "ξ",
	"omicron": "ο", "pi": "π", "rho": "ρ", "sigma": "σ", "sigma1": "ς",
	"tau": "τ", "upsilon": "υ", "phi": "φ", "chi": "χ", "psi": "ψ",
	"omega": "ω", "theta1": "ϑ", "phi1": "ϕ", "omega1": "ϖ", "Upsilon1": "ϒ",
	"epsilon1": "ϵ", "rho1": "ϱ", "vartheta": "ϑ", "varphi": "φ",
	"Omegagreek": "Ω", "Deltagreek": "Δ", "mugreek": "μ",
}

// accentMarks maps AGL accent suffixes to combining marks, so that names
// like "eacute" or "Scommaaccent" compose to single characters.
var accentMarks = []struct {
	suffix string
	mark   rune
}{
	{"acute", '\u0301'}, {"grave", '\u0300'}, {"circumflex", '\u0302'},
	{"dieresis", '\u0308'}, {"tilde", '\u0303'}, {"ring", '\u030A'},
	{"cedilla", '\u0327'}, {"caron", '\u030C'}, {"macron", '\u0304'},
	{"breve", '\u0306'}, {"ogonek", '\u0328'}, {"dotaccent", '\u0307'},
	{"hungarumlaut", '\u030B'}, {"commaaccent", '\u0326'}, {"dotbelow", '\u0323'},
}

// glyphText returns the text for a glyph name, or "" and false when the
// name is unknown (such as the g123 names of subset fonts).
func glyphText(name string) string {
	s, _ := glyphLookup(name)
	return s
}

func glyphLookup(name string) (string, bool) {
	if s, ok := glyphNames[name]; ok {
		return s, true
	}
	if name == "" || name[0] == '.' {
		return "", name == ".notdef"
	}
	// Variants such as "a.sc" or "one.oldstyle" read as their base glyph.
	if i := strings.IndexByte(name, '.'); i > 0 {
		return glyphLookup(name[:i])
	}
	if strings.IndexByte(name, '_') > 0 {
		var b strings.Builder
		for _, part := range strings.Split(name, "_") {
			s, ok := glyphLookup(part)
			if !ok {
				return "", false
			}
			b.WriteString(s)
		}
		return b.String(), true
	}
	if utf8.RuneCountInString(name) == 1 {
		return name, true
	}
	if s, ok := uniName(name); ok {
		return s, true
	}
	if s, ok := afiiCyrillic(name); ok {
		return s, true
	}
	if s, ok := afiiRTL(name); ok {
		return s, true
	}
	for _, a := range accentMarks {
		base, ok := strings.CutSuffix(name, a.suffix)
		if !ok || base == "" {
			continue
		}
		if base == "dotlessi" {
			base = "i"
		}
		if utf8.RuneCountInString(base) == 1 {
			return norm.NFC.String(base + string(a.mark)), true
		}
	}
	return "", false
}

// uniName decodes "uniXXXX[XXXX...]" and "uXXXX[XX]" names.
func uniName(name string) (string, bool) {
	if rest, ok := strings.CutPrefix(name, "uni"); ok && len(rest) >= 4 && len(rest)%4 == 0 {
		var b strings.Builder
		for i := 0; i < len(rest); i += 4 {
			v, err := strconv.ParseUint(rest[i:i+4], 16, 32)
			if err != nil || (v >= 0xD800 && v <= 0xDFFF) {
				return "", false
			}
			b.WriteRune(rune(v))
		}
		return b.String(), true
	}
	if rest, ok := strings.CutPrefix(name, "u"); ok && len(rest) >= 4 && len(rest) <= 6 {
		v, err := strconv.ParseUint(rest, 16, 32)
		if err != nil || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) {
			return "", false
		}
		return string(rune(v)), true
	}
	return "", false
}

// afiiCyrillic decodes the afii100xx names of the basic Cyrillic alphabet.
func afiiCyrillic(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "afii")
	if !ok {
		return "", false
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return "", false
	}
	switch {
	case n == 10023:
		return "Ё", true
	case n == 10071:
		return "ё", true
	case n >= 10017 && n <= 10022:
		return string(rune(0x0410 + n - 10017)), true
	case n >= 10024 && n <= 10049:
		return string(rune(0x0416 + n - 10024)), true
	case n >= 10065 && n <= 10070:
		return string(rune(0x0430 + n - 10065)), true
	case n >= 10072 && n <= 10097:
		return string(rune(0x0436 + n - 10072)), true
	}
	return "", false
}

// afiiRTLSingles are the Arabic and Hebrew afii names of the Adobe Glyph
// List outside the runs afiiRTL computes. Type 1 Arabic fonts (Dad, from
// LuaTeX documents) name their glyphs "afii57415.fin" and so on; without
// these every such letter was dropped.
var afiiRTLSingles = map[int]rune{
	57381: 0x066A, 57388: 0x060C, 57403: 0x061B, 57407: 0x061F, 57470: 0x0647,
	57505: 0x06A4, 57506: 0x067E, 57507: 0x0686, 57508: 0x0698, 57509: 0x06AF,
	57511: 0x0679, 57512: 0x0688, 57513: 0x0691, 57514: 0x06BA, 57519: 0x06D2,
	57534: 0x06D5, 63167: 0x066D,
	57645: 0x05BE, 57658: 0x05C3, 57716: 0x05F0, 57717: 0x05F1, 57718: 0x05F2,
	57793: 0x05B4, 57794: 0x05B5, 57795: 0x05B6, 57796: 0x05BB, 57797: 0x05B8,
	57798: 0x05B7, 57799: 0x05B0, 57800: 0x05B2, 57801: 0x05B1, 57802: 0x05B3,
	57803: 0x05C2, 57804: 0x05C1, 57806: 0x05B9, 57807: 0x05BC, 57839: 0x05BD,
	57841: 0x05BF, 57842: 0x05C0,
}

// afiiRTL maps the Adobe Glyph List's Arabic and Hebrew afii names.
func afiiRTL(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "afii")
	if !ok {
		return "", false
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return "", false
	}
	if r, ok := afiiRTLSingles[n]; ok {
		return string(r), true
	}
	for _, g := range [...]struct {
		from, to int
		base     rune
	}{
		{57392, 57401, 0x0660}, // Arabic-Indic digits
		{57409, 57434, 0x0621}, // hamza .. ghain
		{57440, 57446, 0x0640}, // tatweel .. noon
		{57448, 57458, 0x0648}, // waw .. sukun
		{57664, 57690, 0x05D0}, // alef .. tav
	} {
		if n >= g.from && n <= g.to {
			return string(g.base + rune(n-g.from)), true
		}
	}
	return "", false
}
