package pdftext

import "encoding/binary"

// maxCmapChars bounds how many characters one cmap table may map: a
// hostile format 12 group spanning all of Unicode must not loop 2^32 times.
const maxCmapChars = 1 << 17

// trueTypeGlyphText inverts the Unicode cmap of a TrueType font program:
// glyph id to the character it draws (the smallest, if several). Subset
// fonts that XeTeX, LuaTeX or LibreOffice embed without a ToUnicode map
// usually keep this table. It returns nil for anything it cannot read.
func trueTypeGlyphText(data []byte) map[uint16]rune {
	cmap := sfntTable(data, "cmap")
	if len(cmap) < 4 {
		return nil
	}
	n := int(binary.BigEndian.Uint16(cmap[2:]))
	// Prefer the full-repertoire Windows table, then BMP Windows, then Unicode.
	best, bestRank := -1, 0
	for i := 0; i < n && 4+8*i+8 <= len(cmap); i++ {
		e := cmap[4+8*i:]
		pid, eid := binary.BigEndian.Uint16(e), binary.BigEndian.Uint16(e[2:])
		off := int(binary.BigEndian.Uint32(e[4:]))
		rank := 0
		switch {
		case pid == 3 && eid == 10:
			rank = 4
		case pid == 3 && eid == 1:
			rank = 3
		case pid == 0:
			rank = 2
		}
		if rank > bestRank && off >= 0 && off+4 <= len(cmap) {
			best, bestRank = off, rank
		}
	}
	if best < 0 {
		return nil
	}
	out := map[uint16]rune{}
	add := func(c rune, gid uint32) {
		if gid == 0 || gid > 0xFFFF || c == 0xFFFF {
			return
		}
		if old, ok := out[uint16(gid)]; !ok || c < old {
			out[uint16(gid)] = c
		}
	}
	sub := cmap[best:]
	switch binary.BigEndian.Uint16(sub) {
	case 4:
		cmapFormat4(sub, add)
	case 12:
		cmapFormat12(sub, add)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func cmapFormat4(t []byte, add func(rune, uint32)) {
	if len(t) < 14 {
		return
	}
	seg := int(binary.BigEndian.Uint16(t[6:])) / 2
	ends, starts, deltas, ranges := 14, 16+2*seg, 16+4*seg, 16+6*seg
	if ranges+2*seg > len(t) {
		return
	}
	count := 0
	for i := range seg {
		end := uint32(binary.BigEndian.Uint16(t[ends+2*i:]))
		start := uint32(binary.BigEndian.Uint16(t[starts+2*i:]))
		delta := uint32(binary.BigEndian.Uint16(t[deltas+2*i:]))
		ro := int(binary.BigEndian.Uint16(t[ranges+2*i:]))
		for c := start; c <= end && count < maxCmapChars; c++ {
			count++
			if ro == 0 {
				add(rune(c), (c+delta)&0xFFFF)
				continue
			}
			at := ranges + 2*i + ro + 2*int(c-start)
			if at+2 > len(t) {
				break
			}
			if g := uint32(binary.BigEndian.Uint16(t[at:])); g != 0 {
				add(rune(c), (g+delta)&0xFFFF)
			}
		}
	}
}

func cmapFormat12(t []byte, add func(rune, uint32)) {
	if len(t) < 16 {
		return
	}
	groups := int(binary.BigEndian.Uint32(t[12:]))
	count := 0
	for i := 0; i < groups && 16+12*i+12 <= len(t); i++ {
		g := t[16+12*i:]
		start, end, gid := binary.BigEndian.Uint32(g), binary.BigEndian.Uint32(g[4:]), binary.BigEndian.Uint32(g[8:])
		for c := start; c <= end && c <= 0x10FFFF && count < maxCmapChars; c++ {
			count++
			add(rune(c), gid+(c-start))
		}
		if count >= maxCmapChars {
			return
		}
	}
}

// sfntTable returns one table of a TrueType/OpenType font, or nil.
func sfntTable(data []byte, tag string) []byte {
	if len(data) < 12 {
		return nil
	}
	n := int(binary.BigEndian.Uint16(data[4:]))
	for i := 0; i < n && 12+16*i+16 <= len(data); i++ {
		e := data[12+16*i:]
		if string(e[:4]) != tag {
			continue
		}
		off, length := int(binary.BigEndian.Uint32(e[8:])), int(binary.BigEndian.Uint32(e[12:]))
		if off < 0 || length < 0 || off > len(data) || length > len(data)-off {
			return nil
		}
		return data[off : off+length]
	}
	return nil
}
