package pdftext

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"hash/adler32"
	"strings"
)

// pdfBuilder writes small PDFs with a classic cross-reference table, for
// generating hostile documents in test code rather than committing them.
type pdfBuilder struct {
	objs [][]byte // objs[i] is the body of object i+1
}

// reserve allocates an object number to be filled in with set.
func (b *pdfBuilder) reserve() int {
	b.objs = append(b.objs, nil)
	return len(b.objs)
}

func (b *pdfBuilder) set(n int, body string) { b.objs[n-1] = []byte(body) }

func (b *pdfBuilder) add(body string) int {
	n := b.reserve()
	b.set(n, body)
	return n
}

// addStream adds a stream object; dict is the dictionary's inside
// without Length, data the encoded bytes.
func (b *pdfBuilder) addStream(dict string, data []byte) int {
	var o bytes.Buffer
	fmt.Fprintf(&o, "<< %s /Length %d >>\nstream\n", dict, len(data))
	o.Write(data)
	o.WriteString("\nendstream")
	b.objs = append(b.objs, o.Bytes())
	return len(b.objs)
}

// bytes serialises the file with root as the catalog.
func (b *pdfBuilder) bytes(root int, trailerExtra string) []byte {
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

// docWithPages builds a catalog and a flat page tree over the given page
// objects (already added with placeholder parents fixed up by the caller
// through pagesRef).
func ref(n int) string { return fmt.Sprintf("%d 0 R", n) }

// onePage builds a one-page document: contents is the page's Contents
// value (a reference or an array), resources the Resources dictionary.
func onePage(b *pdfBuilder, contents, resources string) []byte {
	pages := b.reserve()
	page := b.add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Resources %s /Contents %s >>", ref(pages), resources, contents))
	b.set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 1 >>", ref(page)))
	root := b.add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", ref(pages)))
	return b.bytes(root, "")
}

const helvetica = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"

const helloContent = "BT /F1 12 Tf 72 700 Td (Hello hostile world) Tj ET"

// zlibBytes compresses data quickly; the bombs get their ratio from
// deflateBomb, not from this.
func zlibBytes(data []byte) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestSpeed)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// deflateBomb returns a zlib stream that inflates to about n bytes of c,
// written directly as one fixed-Huffman block of one literal followed by
// matches of length 258 at distance 1: 13 bits per 258 bytes, the best
// ratio Deflate allows, and fast to produce (compressing 512 MiB with
// compress/flate takes seconds).
func deflateBomb(n int64, c byte) []byte {
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

var _ = adler32.Checksum // used by tests checking deflateBomb

// hexUTF16 encodes s as a hex string of UTF-16BE, for CMaps.
func hexUTF16(s string) string {
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
