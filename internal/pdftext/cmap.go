package pdftext

import (
	"math"
	"sort"
	"strings"
	"unicode/utf16"
)

// codeRange is one codespacerange entry: codes of n bytes between lo and hi.
type codeRange struct {
	n      int
	lo, hi uint32
}

// uniRange maps a run of codes to consecutive Unicode text, or to an
// explicit list (the array form of bfrange).
type uniRange struct {
	lo, hi uint32
	base   []rune
	list   []string
}

// cidRange maps a run of codes to consecutive CIDs.
type cidRange struct {
	lo, hi, cid uint32
}

// cmap holds either a ToUnicode map or an encoding CMap (code to CID);
// both share the codespace that splits byte strings into codes.
type cmap struct {
	space  []codeRange
	chars  map[uint32]string
	ranges []uniRange
	cids   []cidRange
	cidMap map[uint32]uint32
}

// maxExpand caps how many bfrange codes are expanded into the map; larger
// ranges stay as ranges so a hostile CMap cannot allocate gigabytes.
const maxExpand = 1 << 16

// maxRanges caps the ranges kept per CMap; lookups binary-search them.
// Real CMaps have at most a few thousand.
const maxRanges = 1 << 14

// maxCodeText caps the text one character code may produce. The spec
// allows 512 bytes of UTF-16 for a bfchar destination; a ligature needs
// a handful. Without a cap one code mapped to 100,000 characters turns a
// 1 KB page into gigabytes of text.
const maxCodeText = 256

// parseCMap reads the CMap operators that matter for text; anything it
// does not understand is ignored.
func parseCMap(data []byte) *cmap {
	cm := &cmap{chars: map[uint32]string{}}
	l := &lexer{data: data}
	var ops []object
	expanded := 0
	for {
		k, o, op := l.next(0)
		if k == tokEOF {
			break
		}
		if k == tokOperand {
			if len(ops) < 1<<20 {
				ops = append(ops, o)
			}
			continue
		}
		if k != tokOp {
			continue
		}
		switch string(op) {
		case "endcodespacerange":
			for i := 0; i+1 < len(ops); i += 2 {
				lo, hi := ops[i].str, ops[i+1].str
				if len(lo) == 0 || len(lo) > 4 || len(hi) != len(lo) {
					continue
				}
				cm.space = append(cm.space, codeRange{n: len(lo), lo: beUint(lo), hi: beUint(hi)})
			}
		case "endbfchar":
			for i := 0; i+1 < len(ops); i += 2 {
				if ops[i].kind != objString || len(ops[i].str) > 4 {
					continue
				}
				cm.chars[beUint(ops[i].str)] = dstText(ops[i+1])
			}
		case "endbfrange":
			for i := 0; i+2 < len(ops); i += 3 {
				if ops[i].kind != objString || len(ops[i].str) > 4 {
					continue
				}
				lo, hi := beUint(ops[i].str), beUint(ops[i+1].str)
				if hi < lo {
					continue
				}
				dst := ops[i+2]
				if dst.kind == objArray {
					if len(cm.ranges) >= maxRanges {
						continue
					}
					r := uniRange{lo: lo, hi: hi}
					for _, d := range dst.arr {
						r.list = append(r.list, dstText(d))
					}
					cm.ranges = append(cm.ranges, r)
					continue
				}
				base := []rune(utf16Text(dst.str))
				if len(base) == 0 {
					continue
				}
				// Count in 64 bits: hi may be 0xFFFFFFFF, where a uint32
				// loop counter would wrap and never end.
				if n := uint64(hi) - uint64(lo) + 1; uint64(expanded)+n <= maxExpand {
					expanded += int(n)
					for d := uint64(0); d < n; d++ {
						c := lo + uint32(d)
						cm.chars[c] = offsetText(base, c-lo)
					}
					continue
				}
				if len(cm.ranges) < maxRanges {
					cm.ranges = append(cm.ranges, uniRange{lo: lo, hi: hi, base: base})
				}
			}
		case "endcidrange":
			for i := 0; i+2 < len(ops); i += 3 {
				if ops[i].kind != objString || ops[i+2].kind != objNumber || ops[i+2].num < 0 || ops[i+2].num > math.MaxUint32 || len(cm.cids) >= maxRanges {
					continue
				}
				cm.cids = append(cm.cids, cidRange{lo: beUint(ops[i].str), hi: beUint(ops[i+1].str), cid: uint32(ops[i+2].num)})
			}
		case "endcidchar":
			for i := 0; i+1 < len(ops); i += 2 {
				if ops[i].kind != objString || ops[i+1].kind != objNumber || ops[i+1].num < 0 || ops[i+1].num > math.MaxUint32 {
					continue
				}
				if cm.cidMap == nil {
					cm.cidMap = map[uint32]uint32{}
				}
				cm.cidMap[beUint(ops[i].str)] = uint32(ops[i+1].num)
			}
		}
		ops = ops[:0]
	}
	sort.Slice(cm.space, func(i, j int) bool { return cm.space[i].n < cm.space[j].n })
	sort.SliceStable(cm.ranges, func(i, j int) bool { return cm.ranges[i].lo < cm.ranges[j].lo })
	sort.SliceStable(cm.cids, func(i, j int) bool { return cm.cids[i].lo < cm.cids[j].lo })
	return cm
}

// usable tells whether a ToUnicode map gives any code a real character.
func (cm *cmap) usable() bool {
	for _, t := range cm.chars {
		if usableText(t) {
			return true
		}
	}
	for _, r := range cm.ranges {
		if len(r.base) > 0 && usableText(string(r.base)) {
			return true
		}
		for _, t := range r.list {
			if usableText(t) {
				return true
			}
		}
	}
	return false
}

// usableText tells whether a code's text holds any real character.
func usableText(t string) bool {
	for _, r := range t {
		switch {
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0xFFFD, r == 0xFEFF:
		default:
			return true
		}
	}
	return false
}

func beUint(b []byte) uint32 {
	var v uint32
	for i, c := range b {
		if i >= 4 {
			break
		}
		v = v<<8 | uint32(c)
	}
	return v
}

// dstText turns a bfchar destination (UTF-16BE string or glyph name) into text.
func dstText(o object) string {
	if o.kind == objName {
		return truncateText(glyphText(string(o.str)), maxCodeText)
	}
	if len(o.str) > 2*maxCodeText {
		return truncateText(utf16Text(o.str[:2*maxCodeText]), maxCodeText)
	}
	return truncateText(utf16Text(o.str), maxCodeText)
}

func utf16Text(b []byte) string {
	if len(b) == 1 {
		return string(rune(b[0]))
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return string(utf16.Decode(u))
}

// offsetText adds d to the last character, as bfrange prescribes.
func offsetText(base []rune, d uint32) string {
	if d == 0 {
		return string(base)
	}
	r := make([]rune, len(base))
	copy(r, base)
	r[len(r)-1] += rune(d)
	return string(r)
}

// lookup returns the Unicode text of code and whether the map has it.
func (cm *cmap) lookup(code uint32) (string, bool) {
	if s, ok := cm.chars[code]; ok {
		return s, true
	}
	// Ranges are sorted by lo; look at the few starting at or below code,
	// nearest first (overlapping ranges are rare and short).
	i := sort.Search(len(cm.ranges), func(i int) bool { return cm.ranges[i].lo > code })
	for k := i - 1; k >= 0 && k >= i-8; k-- {
		r := cm.ranges[k]
		if code > r.hi {
			continue
		}
		if r.list != nil {
			if i := int(code - r.lo); i < len(r.list) {
				return r.list[i], true
			}
			return "", false
		}
		return offsetText(r.base, code-r.lo), true
	}
	return "", false
}

// cid maps a code through an encoding CMap; codes it does not cover map
// to themselves, the Identity behaviour.
func (cm *cmap) cid(code uint32) uint32 {
	if c, ok := cm.cidMap[code]; ok {
		return c
	}
	i := sort.Search(len(cm.cids), func(i int) bool { return cm.cids[i].lo > code })
	for k := i - 1; k >= 0 && k >= i-8; k-- {
		if r := cm.cids[k]; code <= r.hi {
			return r.cid + code - r.lo
		}
	}
	return code
}

// nextCode splits one code off s using the codespace ranges. Without
// ranges it takes def bytes. Bytes that match no range are consumed one
// at a time, as the spec's error handling suggests.
func (cm *cmap) nextCode(s []byte, def int) (uint32, int) {
	if cm == nil || len(cm.space) == 0 {
		n := def
		if n > len(s) {
			n = len(s)
		}
		return beUint(s[:n]), n
	}
	for _, r := range cm.space {
		if r.n > len(s) {
			break
		}
		c := beUint(s[:r.n])
		if c >= r.lo && c <= r.hi && inByteRanges(s[:r.n], r) {
			return c, r.n
		}
	}
	// No range matched: use the shortest width whose first byte fits.
	n := cm.space[0].n
	if n > len(s) {
		n = len(s)
	}
	return beUint(s[:n]), n
}

// inByteRanges checks each byte against the range bounds, since
// codespace ranges are per-byte rectangles, not numeric intervals.
func inByteRanges(b []byte, r codeRange) bool {
	for i := range b {
		shift := uint(8 * (len(b) - 1 - i))
		lo, hi := byte(r.lo>>shift), byte(r.hi>>shift)
		if b[i] < lo || b[i] > hi {
			return false
		}
	}
	return true
}

// predefinedUCS reports whether a predefined CMap name encodes Unicode
// directly (UCS-2 or UTF-16), so codes can be used as text.
func predefinedUCS(name string) bool {
	return strings.Contains(name, "UCS2") || strings.Contains(name, "UTF16")
}
