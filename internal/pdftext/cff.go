package pdftext

import "strings"

// cffStandardNames are the CFF standard strings 1..228 (the ISOAdobe
// character set, CFF specification appendix A); SID 0 is .notdef. Later
// standard strings (expert glyphs) are not text a reader needs.
var cffStandardNames = strings.Fields(`space exclam quotedbl numbersign dollar
percent ampersand quoteright parenleft parenright asterisk plus comma hyphen
period slash zero one two three four five six seven eight nine colon semicolon
less equal greater question at A B C D E F G H I J K L M N O P Q R S T U V W X
Y Z bracketleft backslash bracketright asciicircum underscore quoteleft a b c
d e f g h i j k l m n o p q r s t u v w x y z braceleft bar braceright
asciitilde exclamdown cent sterling fraction yen florin section currency
quotesingle quotedblleft guillemotleft guilsinglleft guilsinglright fi fl
endash dagger daggerdbl periodcentered paragraph bullet quotesinglbase
quotedblbase quotedblright guillemotright ellipsis perthousand questiondown
grave acute circumflex tilde macron breve dotaccent dieresis ring cedilla
hungarumlaut ogonek caron emdash AE ordfeminine Lslash Oslash OE ordmasculine
ae dotlessi lslash oslash oe germandbls onesuperior logicalnot mu trademark
Eth onehalf plusminus Thorn onequarter divide brokenbar degree thorn
threequarters twosuperior registered minus eth multiply threesuperior
copyright Aacute Acircumflex Adieresis Agrave Aring Atilde Ccedilla Eacute
Ecircumflex Edieresis Egrave Iacute Icircumflex Idieresis Igrave Ntilde Oacute
Ocircumflex Odieresis Ograve Otilde Scaron Uacute Ucircumflex Udieresis Ugrave
Yacute Ydieresis Zcaron aacute acircumflex adieresis agrave aring atilde
ccedilla eacute ecircumflex edieresis egrave iacute icircumflex idieresis
igrave ntilde oacute ocircumflex odieresis ograve otilde scaron uacute
ucircumflex udieresis ugrave yacute ydieresis zcaron`)

// cffNumStandard is the number of CFF standard strings; SIDs from here on
// index the font's String INDEX.
const cffNumStandard = 391

// cffIndex reads a CFF INDEX at off and returns its items and the offset
// after it, or ok false if it does not fit in data.
func cffIndex(data []byte, off int) (items [][]byte, end int, ok bool) {
	if off+2 > len(data) {
		return nil, 0, false
	}
	count := int(data[off])<<8 | int(data[off+1])
	if count == 0 {
		return nil, off + 2, true
	}
	if off+3 > len(data) {
		return nil, 0, false
	}
	size := int(data[off+2])
	if size < 1 || size > 4 {
		return nil, 0, false
	}
	offs := off + 3
	base := offs + (count+1)*size - 1
	if base >= len(data) {
		return nil, 0, false
	}
	at := func(i int) int {
		v := 0
		for _, b := range data[offs+i*size : offs+(i+1)*size] {
			v = v<<8 | int(b)
		}
		return v
	}
	prev := at(0)
	for i := 1; i <= count; i++ {
		next := at(i)
		if next < prev || base+next > len(data) {
			return nil, 0, false
		}
		items = append(items, data[base+prev:base+next])
		prev = next
	}
	return items, base + prev, true
}

// cffTopDict returns the integer operands of the Top DICT operators it
// needs: charset (15), Encoding (16), CharStrings (17).
func cffTopDict(d []byte) map[int]int {
	out := map[int]int{}
	var stack []int
	for i := 0; i < len(d); {
		b := int(d[i])
		switch {
		case b <= 21:
			op := b
			i++
			if b == 12 && i < len(d) {
				op = 1200 + int(d[i])
				i++
			}
			if len(stack) > 0 {
				out[op] = stack[len(stack)-1]
			}
			stack = stack[:0]
		case b == 28 && i+2 < len(d):
			stack = append(stack, int(int16(uint16(d[i+1])<<8|uint16(d[i+2]))))
			i += 3
		case b == 29 && i+4 < len(d):
			stack = append(stack, int(int32(uint32(d[i+1])<<24|uint32(d[i+2])<<16|uint32(d[i+3])<<8|uint32(d[i+4]))))
			i += 5
		case b == 30:
			// A real number: skip its nibbles up to the 0xf terminator.
			i++
			for i < len(d) && d[i]&0x0f != 0x0f && d[i]&0xf0 != 0xf0 {
				i++
			}
			i++
			stack = append(stack, 0)
		case b >= 32 && b <= 246:
			stack = append(stack, b-139)
			i++
		case b >= 247 && b <= 250 && i+1 < len(d):
			stack = append(stack, (b-247)*256+int(d[i+1])+108)
			i += 2
		case b >= 251 && b <= 254 && i+1 < len(d):
			stack = append(stack, -(b-251)*256-int(d[i+1])-108)
			i += 2
		default:
			return out
		}
		if len(stack) > 48 {
			return out
		}
	}
	return out
}

// cffEncoding reads the built-in encoding of a bare CFF font program
// (FontFile3 /Type1C): code to glyph name through its Encoding and
// charset. It returns nil when the font uses StandardEncoding or cannot
// be read, so the caller keeps its default.
func cffEncoding(data []byte) *encoding {
	if len(data) < 4 {
		return nil
	}
	_, off, ok := cffIndex(data, int(data[2])) // Name INDEX
	if !ok {
		return nil
	}
	tops, off, ok := cffIndex(data, off)
	if !ok || len(tops) == 0 {
		return nil
	}
	strs, _, ok := cffIndex(data, off)
	if !ok {
		return nil
	}
	top := cffTopDict(tops[0])
	encOff, csOff, chOff := top[16], top[15], top[17]
	if encOff <= 1 || encOff >= len(data) || chOff <= 0 {
		return nil
	}
	chars, _, ok := cffIndex(data, chOff)
	if !ok {
		return nil
	}
	n := len(chars)
	name := func(sid int) string {
		switch {
		case sid >= 1 && sid <= len(cffStandardNames):
			return cffStandardNames[sid-1]
		case sid >= cffNumStandard && sid-cffNumStandard < len(strs):
			return string(strs[sid-cffNumStandard])
		}
		return ""
	}
	// charset: glyph id to SID.
	sids := make([]int, n)
	u16 := func(i int) int { return int(data[i])<<8 | int(data[i+1]) }
	switch {
	case csOff == 0:
		for g := range sids {
			sids[g] = g
		}
	case csOff > 2 && csOff < len(data):
		p := csOff + 1
		switch data[csOff] {
		case 0:
			for g := 1; g < n && p+2 <= len(data); g, p = g+1, p+2 {
				sids[g] = u16(p)
			}
		case 1, 2:
			for g := 1; g < n; {
				w := 3
				if data[csOff] == 2 {
					w = 4
				}
				if p+w > len(data) {
					break
				}
				first, left := u16(p), int(data[p+2])
				if w == 4 {
					left = u16(p + 2)
				}
				for k := 0; k <= left && g < n; k++ {
					sids[g] = first + k
					g++
				}
				p += w
			}
		}
	default:
		return nil
	}
	enc := new(encoding)
	std := baseEncoding("StandardEncoding")
	// A glyph name that means nothing (".notdef", "alef.init") reads as
	// StandardEncoding's character for the code, as in pdftotext.
	set := func(code int, n string) {
		if t, ok := glyphLookup(n); ok && t != "" {
			enc[code] = t
		} else {
			enc[code] = std[code]
		}
	}
	format := data[encOff]
	p := encOff + 1
	if p >= len(data) {
		return nil
	}
	switch format & 0x7f {
	case 0:
		nc := int(data[p])
		p++
		for g := 1; g <= nc && p < len(data); g, p = g+1, p+1 {
			if g < n {
				set(int(data[p]), name(sids[g]))
			}
		}
	case 1:
		nr := int(data[p])
		p++
		g := 1
		for r := 0; r < nr && p+2 <= len(data); r, p = r+1, p+2 {
			first, left := int(data[p]), int(data[p+1])
			for k := 0; k <= left && first+k < 256; k++ {
				if g < n {
					set(first+k, name(sids[g]))
				}
				g++
			}
		}
	default:
		return nil
	}
	if format&0x80 != 0 && p < len(data) {
		ns := int(data[p])
		p++
		for s := 0; s < ns && p+3 <= len(data); s, p = s+1, p+3 {
			set(int(data[p]), name(u16(p+1)))
		}
	}
	return enc
}
