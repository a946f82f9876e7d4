package csvin

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Text returns a file's bytes as UTF-8 text, or an error naming the file,
// the line and the byte where it is not. A UTF-8 byte-order mark is
// dropped; UTF-16 with a byte-order mark (Excel's "Unicode text", little
// or big endian) is decoded, strictly: an unpaired surrogate or an odd
// byte is an error, not a U+FFFD in a document's title. Anything else must
// be UTF-8. No other encoding is guessed: a Windows-1252 "é" is one byte
// that is also a valid character of several other code pages, so a guess
// would corrupt some files silently, which is what reading invalid UTF-8
// as U+FFFD did. A NUL byte is refused too: no text holds one, and a
// UTF-16 file without its byte-order mark is full of them.
//
// max bounds the decoded text, which may be half again the file's size
// (two bytes of UTF-16 are up to three of UTF-8), so a budget on the file
// alone would not bound it.
func Text(raw []byte, name string, max int) ([]byte, error) {
	switch {
	case bytes.HasPrefix(raw, []byte{0xff, 0xfe, 0, 0}) || bytes.HasPrefix(raw, []byte{0, 0, 0xfe, 0xff}):
		return nil, fmt.Errorf("%s is UTF-32 text, which is not read: save it as UTF-8 (in Excel: CSV UTF-8)", name)
	case bytes.HasPrefix(raw, []byte{0xff, 0xfe}):
		return fromUTF16(raw[2:], false, name, max)
	case bytes.HasPrefix(raw, []byte{0xfe, 0xff}):
		return fromUTF16(raw[2:], true, name, max)
	}
	raw = bytes.TrimPrefix(raw, []byte("\ufeff")) // Excel writes a UTF-8 byte-order mark
	if at := firstNotText(raw); at >= 0 {
		line, col := position(raw, at)
		if raw[at] == 0 {
			return nil, fmt.Errorf("%s line %d, byte %d: a NUL byte, which no text holds (UTF-16 without a byte-order mark?): save the file as UTF-8 (in Excel: CSV UTF-8)", name, line, col)
		}
		return nil, fmt.Errorf("%s line %d, byte %d: not UTF-8 text (byte 0x%02X; Latin-1 or Windows-1252?): save the file as UTF-8 (in Excel: CSV UTF-8; or iconv -f WINDOWS-1252 -t UTF-8), other encodings are not guessed", name, line, col, raw[at])
	}
	if len(raw) > max {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, max>>20)
	}
	return raw, nil
}

// firstNotText is the offset of the first byte that is not part of valid
// UTF-8 or is a NUL, or -1.
func firstNotText(b []byte) int {
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return -1
	}
	for i := 0; i < len(b); {
		if b[i] == 0 {
			return i
		}
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// position is the 1-based line and byte column of offset at in text.
func position(text []byte, at int) (line, col int) {
	before := text[:at]
	line = 1 + bytes.Count(before, []byte{'\n'})
	return line, at - bytes.LastIndexByte(before, '\n')
}

// fromUTF16 decodes UTF-16 (after its byte-order mark) into at most max
// bytes of UTF-8. Errors name the line and the byte of the file
// (1-based, counting the mark).
func fromUTF16(b []byte, bigEndian bool, name string, max int) ([]byte, error) {
	unit := func(i int) rune {
		if bigEndian {
			return rune(b[i])<<8 | rune(b[i+1])
		}
		return rune(b[i+1])<<8 | rune(b[i])
	}
	out := make([]byte, 0, min(len(b)+len(b)/2, max+4))
	for i := 0; i < len(b); i += 2 {
		if i+1 == len(b) {
			return nil, fmt.Errorf("%s line %d: not valid UTF-16 (the file ends in half a character)", name, 1+bytes.Count(out, []byte{'\n'}))
		}
		r := unit(i)
		switch {
		case r == 0:
			return nil, fmt.Errorf("%s line %d: a NUL character at byte %d of the file, which no text holds", name, 1+bytes.Count(out, []byte{'\n'}), i+3)
		case utf16.IsSurrogate(r):
			var r2 rune = -1
			if r < 0xdc00 && i+3 < len(b) {
				r2 = unit(i + 2)
			}
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				r, i = d, i+2
				break
			}
			return nil, fmt.Errorf("%s line %d: not valid UTF-16 at byte %d of the file (an unpaired surrogate 0x%04X)", name, 1+bytes.Count(out, []byte{'\n'}), i+3, r)
		}
		if r == 0xfeff && len(out) == 0 {
			continue // a UTF-8 mark saved as UTF-16 text, dropped as in UTF-8
		}
		out = utf8.AppendRune(out, r)
		if len(out) > max {
			return nil, fmt.Errorf("%s is larger than %d MiB once decoded from UTF-16", name, max>>20)
		}
	}
	return out, nil
}
