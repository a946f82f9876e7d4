// Package capread bounds how much of an untrusted stream is read, and
// fails, rather than ends, a stream that is longer: io.LimitReader would
// end it as if it were whole, and a decoder would take the cut for the
// document (a truncated JSON answer, an XML part, a PDF stream).
package capread

import (
	"errors"
	"io"
)

// Reader passes at most a limit of bytes from R. Once the limit is read,
// a stream that ends there ends (io.EOF); one with a byte more fails with
// the Over error, which every later read returns too.
type Reader struct {
	r    io.Reader
	left int64
	over error
	hit  bool
}

// New caps r at limit bytes; over is the error for a longer stream.
func New(r io.Reader, limit int64, over error) *Reader {
	return &Reader{r: r, left: limit, over: over}
}

// Read implements io.Reader.
func (c *Reader) Read(p []byte) (int, error) {
	if c.hit {
		return 0, c.over
	}
	if c.left <= 0 {
		// One byte more tells a stream of exactly the limit from a longer
		// one. ReadFull: a reader may answer (0, nil).
		var one [1]byte
		n, err := io.ReadFull(c.r, one[:])
		switch {
		case n > 0:
			c.hit = true
			return 0, c.over
		case errors.Is(err, io.EOF):
			return 0, io.EOF
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// Hit reports whether the stream was found longer than the limit.
func (c *Reader) Hit() bool { return c.hit }

// ReadCloser is a Reader that closes the stream it reads.
type ReadCloser struct {
	*Reader
	c io.Closer
}

// NewCloser caps rc (an HTTP response body, say) at limit bytes.
func NewCloser(rc io.ReadCloser, limit int64, over error) ReadCloser {
	return ReadCloser{Reader: New(rc, limit, over), c: rc}
}

// Close closes the underlying stream.
func (r ReadCloser) Close() error { return r.c.Close() }
