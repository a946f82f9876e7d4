package httpapi

import (
	"io"
	"unicode/utf8"
)

// utf8Checker passes a body through to the JSON decoder and remembers
// where the first byte that is not UTF-8 is. encoding/json silently turns
// such bytes into U+FFFD, so without this check two different paths
// ("caf\xe9.pdf", "caf\xe8.pdf") would become the same document, tag a file
// that does not exist, and collide in the idempotency digest. JSON must be
// UTF-8 (RFC 8259), so such bodies are refused instead.
type utf8Checker struct {
	r    io.Reader
	off  int64  // bytes fully checked
	tail []byte // an incomplete sequence at the end of the last read
	bad  int64  // offset of the first invalid byte; -1: none yet
}

func newUTF8Checker(r io.Reader) *utf8Checker { return &utf8Checker{r: r, bad: -1} }

func (u *utf8Checker) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if u.bad < 0 && n > 0 {
		u.check(p[:n])
	}
	return n, err
}

func (u *utf8Checker) check(chunk []byte) {
	if len(u.tail) > 0 {
		// Finish the sequence split across reads; at most 3 more bytes.
		joined := append(u.tail, chunk[:min(utf8.UTFMax-len(u.tail), len(chunk))]...)
		if !utf8.FullRune(joined) {
			u.tail = joined
			return
		}
		r, size := utf8.DecodeRune(joined)
		if r == utf8.RuneError && size <= 1 {
			u.bad = u.off
			return
		}
		chunk = chunk[size-len(u.tail):]
		u.off += int64(size)
		u.tail = nil
	}
	if utf8.Valid(chunk) { // the common case, checked fast
		u.off += int64(len(chunk))
		return
	}
	i := 0
	for i < len(chunk) {
		r, size := utf8.DecodeRune(chunk[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(chunk[i:]) {
				break // the rest of this sequence comes with the next read
			}
			u.bad = u.off + int64(i)
			return
		}
		i += size
	}
	u.off += int64(i)
	u.tail = append([]byte(nil), chunk[i:]...)
}

// firstInvalid returns the offset of the first invalid byte, counting a
// sequence cut off by the end of the body, or -1.
func (u *utf8Checker) firstInvalid() int64 {
	if u.bad < 0 && len(u.tail) > 0 {
		return u.off
	}
	return u.bad
}
