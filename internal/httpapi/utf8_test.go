package httpapi

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// firstInvalidRef is the offset of the first byte that starts no valid
// sequence, or -1.
func firstInvalidRef(b []byte) int64 {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return int64(i)
		}
		i += size
	}
	return -1
}

// TestUTF8CheckerAgreesWithTheStandardLibrary reads each input whole, one
// byte at a time and in halves, so sequences split across reads are covered.
func TestUTF8CheckerAgreesWithTheStandardLibrary(t *testing.T) {
	inputs := []string{"", "plain", "café €𝄞", "caf\xe9", "\xff", "ok\xe2\x82", "\xe2\x82\xac\xe2\x82", "a\xed\xa0\x80b",
		"\xf0\x9d\x84\x9e\xf0", "\xef\xbf\xbd", "x\xc3\x28", "\xc0\xaf", "€€€\x80"}
	readers := map[string]func([]byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"halves":   func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
	}
	for _, in := range inputs {
		for name, mk := range readers {
			u := newUTF8Checker(mk([]byte(in)))
			if _, err := io.ReadAll(u); err != nil {
				t.Fatal(err)
			}
			if got, want := u.firstInvalid(), firstInvalidRef([]byte(in)); got != want {
				t.Errorf("%q read %s: first invalid byte %d, want %d", in, name, got, want)
			}
		}
	}
}

func TestDecodeRefusesInvalidUTF8(t *testing.T) {
	var v map[string]any
	err := decodeJSON(bytes.NewReader([]byte("{\"a\":\"caf\xe9\"}")), &v, false)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("UTF-8 (byte 9)")) {
		t.Fatalf("invalid UTF-8 accepted or badly reported: %v", err)
	}
	if err := decodeJSON(bytes.NewReader([]byte(`{"a":"café €"}`)), &v, false); err != nil {
		t.Fatalf("valid UTF-8 refused: %v", err)
	}
}
