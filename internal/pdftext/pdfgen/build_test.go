package pdfgen

import (
	"bytes"
	"compress/zlib"
	"hash/adler32"
	"io"
	"testing"
)

func TestDeflateBombGenerator(t *testing.T) {
	for _, n := range []int64{1, 259, 100_000} {
		z := DeflateBomb(n, ' ')
		zr, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		want := bytes.Repeat([]byte(" "), len(got))
		if int64(len(got)) > n || int64(len(got)) <= n-258 || !bytes.Equal(got, want) || adler32.Checksum(got) == 0 {
			t.Fatalf("n=%d: inflated to %d bytes", n, len(got))
		}
	}
}
