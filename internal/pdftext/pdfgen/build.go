// Package pdfgen builds PDFs in code for tests: small well-formed files and
// the hostile-input suite (issue 10 item 7), so that no bomb is committed
// and every package testing extraction (pdftext itself, the tagging
// pipeline, the extract command) attacks it with the same documents. It
// imports nothing of ours, pdftext included, so pdftext's own tests can use
// it; expected errors are therefore named by strings.
package pdfgen

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"
)

// Builder writes small PDFs with a classic cross-reference table, for
// generating hostile documents in test code rather than committing them.
type Builder struct {
	objs [][]byte // objs[i] is the body of object i+1
}

// Reserve allocates an object number to be filled in with Set.
func (b *Builder) Reserve() int {
	b.objs = append(b.objs, nil)
	return len(b.objs)
}

// Set fills object n with body.
func (b *Builder) Set(n int, body string) { b.objs[n-1] = []byte(body) }

// Add adds an object and returns its number.
func (b *Builder) Add(body string) int {
	n := b.Reserve()
	b.Set(n, body)
	return n
}

// AddStream adds a stream object; dict is the dictionary's inside
// without Length, data the encoded bytes.
func (b *Builder) AddStream(dict string, data []byte) int {
	var o bytes.Buffer
	fmt.Fprintf(&o, "<< %s /Length %d >>\nstream\n", dict, len(data))
	o.Write(data)
	o.WriteString("\nendstream")
	b.objs = append(b.objs, o.Bytes())
	return len(b.objs)
}

// Bytes serialises the file with root as the catalog.
func (b *Builder) Bytes(root int, trailerExtra string) []byte {
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(b.objs))
	for i, body := range b.objs {
		offsets[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n", i+1)
		out.Write(body)
		out.WriteString("\nendobj\n")
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(b.objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root %d 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", len(b.objs)+1, root, trailerExtra, xref)
	return out.Bytes()
}

// Ref is an indirect reference to object n.
func Ref(n int) string { return fmt.Sprintf("%d 0 R", n) }

// OnePage builds a one-page document: contents is the page's Contents
// value (a reference or an array), resources the Resources dictionary.
func OnePage(b *Builder, contents, resources string) []byte {
	pages := b.Reserve()
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Resources %s /Contents %s >>", Ref(pages), resources, contents))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 1 >>", Ref(page)))
	root := b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", Ref(pages)))
	return b.Bytes(root, "")
}

// Helvetica is a Resources dictionary naming Helvetica /F1, and
// HelloContent a content stream showing "Hello hostile world" with it.
const Helvetica = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"

const HelloContent = "BT /F1 12 Tf 72 700 Td (Hello hostile world) Tj ET"

// Zlib compresses data quickly; the bombs get their ratio from
// DeflateBomb, not from this.
func Zlib(data []byte) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestSpeed)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// DeflateBomb returns a zlib stream that inflates to about n bytes of c,
// written directly as one fixed-Huffman block of one literal followed by
// matches of length 258 at distance 1: 13 bits per 258 bytes, the best
// ratio Deflate allows, and fast to produce (compressing 512 MiB with
// compress/flate takes seconds).
func DeflateBomb(n int64, c byte) []byte {
	var w bitWriter
	w.out = append(w.out, 0x78, 0x01)
	w.bits(1, 1) // BFINAL
	w.bits(1, 2) // BTYPE=01, fixed Huffman
	w.code(0x30+uint32(c), 8)
	total := int64(1)
	for total+258 <= n {
		w.code(0xC0+(285-280), 8) // length 258
		w.code(0, 5)              // distance 1
		total += 258
	}
	w.code(0, 7) // end of block
	w.flush()
	// Adler-32 of total copies of c, computed without materialising them.
	const mod = 65521
	a := (1 + uint64(total%mod)*uint64(c)) % mod
	t := uint64(total % mod)
	tri := (uint64(total) % (2 * mod)) * ((uint64(total) + 1) % (2 * mod)) / 2 % mod
	b := (t + uint64(c)*tri) % mod
	sum := uint32(b<<16 | a)
	return append(w.out, byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum))
}

// bitWriter writes Deflate's LSB-first bit stream.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

func (w *bitWriter) bits(v uint32, n uint) {
	w.acc |= uint64(v) << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// code writes a Huffman code, which Deflate stores most significant bit first.
func (w *bitWriter) code(v uint32, n uint) {
	var r uint32
	for i := uint(0); i < n; i++ {
		r = r<<1 | (v>>i)&1
	}
	w.bits(r, n)
}

func (w *bitWriter) flush() {
	if w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.nacc = 0, 0
	}
}

// HexUTF16 encodes s as a hex string of UTF-16BE, for CMaps.
func HexUTF16(s string) string {
	var b strings.Builder
	b.WriteByte('<')
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			fmt.Fprintf(&b, "%04X%04X", 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			continue
		}
		fmt.Fprintf(&b, "%04X", r)
	}
	b.WriteByte('>')
	return b.String()
}
