package pdftext

import (
	"bytes"
	"strconv"
)

// objKind tells which PDF syntax element an operand came from.
type objKind uint8

const (
	objNull objKind = iota
	objNumber
	objString
	objName
	objArray
	objDict
	objBool
)

// object is a content-stream operand. It is deliberately much smaller than
// pdfcpu's types.Object: operators only need numbers, strings, names and the
// arrays of TJ, and this avoids an interface allocation per token.
type object struct {
	kind objKind
	num  float64
	str  []byte // string bytes (escapes resolved) or name without the slash
	arr  []object
}

// maxNesting bounds array/dict nesting so hostile input cannot blow the stack.
const maxNesting = 32

// lexer tokenises content streams and CMaps. It never fails: unknown bytes
// are skipped, so a damaged stream still yields the text before the damage.
type lexer struct {
	data []byte
	pos  int
}

func isWhite(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c byte) bool { return !isWhite(c) && !isDelim(c) }

// skipSpace skips whitespace and comments.
func (l *lexer) skipSpace() {
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		if isWhite(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for l.pos < len(l.data) && l.data[l.pos] != '\n' && l.data[l.pos] != '\r' {
				l.pos++
			}
			continue
		}
		return
	}
}

// tokenKind distinguishes what next returned.
type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokOperand
	tokOp
	tokArrayEnd
	tokDictEnd
)

// next returns the next operand or operator. For tokOp the keyword is in op.
func (l *lexer) next(depth int) (kind tokenKind, obj object, op []byte) {
	for {
		l.skipSpace()
		if l.pos >= len(l.data) {
			return tokEOF, obj, nil
		}
		c := l.data[l.pos]
		switch {
		case c == '(':
			l.pos++
			return tokOperand, object{kind: objString, str: l.literalString()}, nil
		case c == '<':
			if l.pos+1 < len(l.data) && l.data[l.pos+1] == '<' {
				l.pos += 2
				return tokOperand, l.collection(depth, tokDictEnd, objDict), nil
			}
			l.pos++
			return tokOperand, object{kind: objString, str: l.hexString()}, nil
		case c == '>':
			l.pos++
			if l.pos < len(l.data) && l.data[l.pos] == '>' {
				l.pos++
				return tokDictEnd, obj, nil
			}
			continue
		case c == '[':
			l.pos++
			return tokOperand, l.collection(depth, tokArrayEnd, objArray), nil
		case c == ']':
			l.pos++
			return tokArrayEnd, obj, nil
		case c == '/':
			l.pos++
			return tokOperand, object{kind: objName, str: l.name()}, nil
		case c == '{' || c == '}' || c == ')':
			// PostScript procedures and stray parens carry no text.
			l.pos++
			continue
		}
		start := l.pos
		for l.pos < len(l.data) && isRegular(l.data[l.pos]) {
			l.pos++
		}
		word := l.data[start:l.pos]
		if n, ok := parseNumber(word); ok {
			return tokOperand, object{kind: objNumber, num: n}, nil
		}
		switch string(word) {
		case "true", "false":
			return tokOperand, object{kind: objBool, num: b2f(word[0] == 't')}, nil
		case "null":
			return tokOperand, object{kind: objNull}, nil
		}
		return tokOp, obj, word
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collection reads array or dict elements up to the matching end token.
// Operators inside (invalid PDF) are dropped.
func (l *lexer) collection(depth int, end tokenKind, kind objKind) object {
	o := object{kind: kind}
	if depth >= maxNesting {
		return o
	}
	for {
		k, el, _ := l.next(depth + 1)
		switch k {
		case tokEOF:
			return o
		case tokOperand:
			o.arr = append(o.arr, el)
		case tokArrayEnd, tokDictEnd:
			if k == end {
				return o
			}
		}
	}
}

// parseNumber accepts PDF numbers, including the sloppy forms some
// producers write ("-.5", "4.", "--3").
func parseNumber(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	c := b[0]
	if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.') {
		return 0, false
	}
	// Fast path for plain integers, by far the most common operand.
	neg := false
	i := 0
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i = 1
	}
	var n int64
	j := i
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 15; j++ {
		n = n*10 + int64(b[j]-'0')
	}
	if j == len(b) && j > i {
		if neg {
			n = -n
		}
		return float64(n), true
	}
	for i < len(b) && (b[i] == '-' || b[i] == '+') {
		i++
	}
	f, err := strconv.ParseFloat(string(b[i:]), 64)
	if err != nil {
		// Only digits and dots count as a malformed number; anything else
		// is a keyword.
		for _, c := range b[i:] {
			if !(c >= '0' && c <= '9' || c == '.') {
				return 0, false
			}
		}
		return 0, true
	}
	if neg {
		f = -f
	}
	return f, true
}

func (l *lexer) name() []byte {
	start := l.pos
	for l.pos < len(l.data) && isRegular(l.data[l.pos]) {
		l.pos++
	}
	raw := l.data[start:l.pos]
	if bytes.IndexByte(raw, '#') < 0 {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '#' && i+2 < len(raw) {
			if h, ok := unhex2(raw[i+1], raw[i+2]); ok {
				out = append(out, h)
				i += 2
				continue
			}
		}
		out = append(out, raw[i])
	}
	return out
}

func unhexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func unhex2(a, b byte) (byte, bool) {
	x, ok1 := unhexDigit(a)
	y, ok2 := unhexDigit(b)
	return x<<4 | y, ok1 && ok2
}

// literalString reads after the opening paren. It returns a sub-slice of
// the input when there are no escapes, which is the common case.
func (l *lexer) literalString() []byte {
	start := l.pos
	depth := 1
	simple := true
	for i := l.pos; i < len(l.data); i++ {
		switch l.data[i] {
		case '\\', '\r':
			simple = false
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 && simple {
				l.pos = i + 1
				return l.data[start:i]
			}
		}
		if !simple {
			break
		}
	}
	var out []byte
	depth = 1
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '\r':
			// End-of-line markers inside strings read as a single LF.
			if l.pos < len(l.data) && l.data[l.pos] == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			if l.pos >= len(l.data) {
				return out
			}
			e := l.data[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.data) && l.data[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.pos < len(l.data); k++ {
						d := l.data[l.pos]
						if d < '0' || d > '7' {
							break
						}
						v = v*8 + int(d-'0')
						l.pos++
					}
					c = byte(v)
				} else {
					c = e // \( \) \\ and unknown escapes stand for the char.
				}
			}
		}
		out = append(out, c)
	}
	return out
}

func (l *lexer) hexString() []byte {
	var out []byte
	var hi byte
	half := false
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		l.pos++
		if c == '>' {
			break
		}
		d, ok := unhexDigit(c)
		if !ok {
			continue
		}
		if half {
			out = append(out, hi<<4|d)
		} else {
			hi = d
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out
}

// skipInlineImage moves past the binary data of an inline image: after ID
// and one whitespace byte, up to an EI that stands alone as a token.
func (l *lexer) skipInlineImage() {
	// Skip the image dictionary up to ID.
	for {
		k, _, op := l.next(0)
		if k == tokEOF {
			return
		}
		if k == tokOp && string(op) == "ID" {
			break
		}
	}
	if l.pos < len(l.data) {
		l.pos++
	}
	for i := l.pos; i+1 < len(l.data); i++ {
		if l.data[i] == 'E' && l.data[i+1] == 'I' &&
			(i == 0 || isWhite(l.data[i-1])) &&
			(i+2 >= len(l.data) || isWhite(l.data[i+2]) || isDelim(l.data[i+2])) {
			l.pos = i + 2
			return
		}
	}
	l.pos = len(l.data)
}
