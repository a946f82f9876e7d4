package capread_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tagstream/tagstream/internal/capread"
)

var errOver = errors.New("over the limit")

// A stream of at most the limit reads whole; one byte more is an error,
// not a quietly shorter stream, whatever the reader's chunking; and an
// error of the stream itself comes through.
func TestCapReadsWholeOrFails(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int64
		err   error
	}{
		{"", 0, nil}, {"abc", 3, nil}, {"abc", 10, nil},
		{"abcd", 3, errOver}, {"a", 0, errOver},
	} {
		for name, r := range map[string]io.Reader{
			"plain":    strings.NewReader(tc.in),
			"one byte": iotest.OneByteReader(strings.NewReader(tc.in)),
			"half":     iotest.HalfReader(strings.NewReader(tc.in)),
		} {
			c := capread.New(r, tc.limit, errOver)
			got, err := io.ReadAll(c)
			if !errors.Is(err, tc.err) || c.Hit() != (tc.err != nil) {
				t.Errorf("%q limit %d (%s): %q, %v, hit %v", tc.in, tc.limit, name, got, err, c.Hit())
			}
			if tc.err == nil && string(got) != tc.in {
				t.Errorf("%q limit %d (%s): read %q", tc.in, tc.limit, name, got)
			}
			if _, err := c.Read(make([]byte, 4)); tc.err != nil && !errors.Is(err, errOver) {
				t.Errorf("%q: a read after the error: %v", tc.in, err)
			}
		}
	}
	broken := errors.New("connection reset")
	c := capread.New(iotest.ErrReader(broken), 0, errOver)
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, broken) {
		t.Errorf("the stream's own error at the limit: %v", err)
	}
}

type closer struct {
	io.Reader
	closed bool
}

func (c *closer) Close() error { c.closed = true; return nil }

func TestCloserCloses(t *testing.T) {
	body := &closer{Reader: bytes.NewReader([]byte("xy"))}
	rc := capread.NewCloser(body, 1, errOver)
	if _, err := io.ReadAll(rc); !errors.Is(err, errOver) {
		t.Errorf("read: %v", err)
	}
	if rc.Close(); !body.closed {
		t.Error("the body was not closed")
	}
}

func FuzzCap(f *testing.F) {
	f.Add([]byte("hello"), int64(3))
	f.Fuzz(func(t *testing.T, in []byte, limit int64) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		got, err := io.ReadAll(capread.New(bytes.NewReader(in), limit, errOver))
		if int64(len(in)) > limit {
			if !errors.Is(err, errOver) || int64(len(got)) != limit {
				t.Fatalf("%d bytes, limit %d: %d read, %v", len(in), limit, len(got), err)
			}
		} else if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%d bytes, limit %d: %v", len(in), limit, err)
		}
	})
}
