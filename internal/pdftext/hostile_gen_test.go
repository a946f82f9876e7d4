package pdftext

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
)

// hostileDoc is one generated attack on the extractor and what it must
// come to: an error matching want (with budget naming the BudgetError's
// budget when want is ErrBudget), or success with text containing text.
type hostileDoc struct {
	name   string
	gen    func() []byte
	want   error
	budget string
	text   string
}

// hostileDocs is the hostile-input suite (issue 10 item 7). Each
// generator is cheap; none of the files is committed.
var hostileDocs = []hostileDoc{
	{name: "flate-bomb-512MiB", gen: genFlateBomb, want: ErrBudget, budget: BudgetStreamBytes},
	{name: "nested-flate-bomb-512MiB", gen: genNestedFlateBomb, want: ErrBudget, budget: BudgetStreamBytes},
	{name: "contents-repeat-40x-bomb", gen: genContentsRepeatBomb, want: ErrBudget, budget: BudgetStreamBytes},
	{name: "contents-repeat-40x-16MiB", gen: genContentsRepeat, want: ErrBudget, budget: BudgetPageContent},
	{name: "document-bytes-3-pages-of-44MiB", gen: genDocBytes, want: ErrBudget, budget: BudgetDocDecode},
	{name: "filter-chain-of-5", gen: genLongFilterChain, want: ErrBudget, budget: BudgetFilters},
	{name: "endless-content-20M-operators", gen: genEndlessContent, want: ErrBudget, budget: BudgetPageOps},
	{name: "document-operators-3-pages", gen: genDocOps, want: ErrBudget, budget: BudgetDocOps},
	{name: "pages-tree-cycle", gen: genPagesCycle, want: ErrCorrupt},
	{name: "pages-tree-deep-10000", gen: genDeepPages, want: ErrCorrupt},
	{name: "pages-tree-flat-100000", gen: genFlatPages, text: "Hello hostile world"},
	{name: "form-self-reference", gen: genFormSelf, text: "Hello hostile world"},
	{name: "forms-recursive-fanout-8", gen: genFormFanout, want: ErrBudget, budget: BudgetPageText},
	{name: "huge-arrays", gen: genHugeArrays, text: "Hello hostile world"},
	{name: "bfrange-to-FFFFFFFF", gen: genBfrangeWrap, text: "AB"},
	{name: "bfchar-100000-chars", gen: genBfcharLong, want: ErrBudget, budget: BudgetPageText},
	{name: "cidfont-W-at-2^53", gen: genWHuge, text: "AB"},
	{name: "million-objects-declared", gen: genMillionDeclared, want: ErrBudget, budget: BudgetObjects},
	{name: "million-objects-objstm", gen: genMillionObjStm, want: ErrBudget, budget: BudgetObjects},
}

// memo caches each generator's output: the suite, the benchmark and the
// fuzz seeds share one copy per test binary.
var (
	memoMu sync.Mutex
	memo   = map[string][]byte{}
)

func (h hostileDoc) data() []byte {
	memoMu.Lock()
	defer memoMu.Unlock()
	if d, ok := memo[h.name]; ok {
		return d
	}
	d := h.gen()
	memo[h.name] = d
	return d
}

const bombSize = 512 << 20

func genFlateBomb() []byte {
	b := &pdfBuilder{}
	s := b.addStream("/Filter /FlateDecode", deflateBomb(bombSize, ' '))
	return onePage(b, ref(s), helvetica)
}

// nestedBomb is 512 MiB of spaces compressed twice: a few KB.
func nestedBomb() []byte { return zlibBytes(deflateBomb(bombSize, ' ')) }

func genNestedFlateBomb() []byte {
	b := &pdfBuilder{}
	s := b.addStream("/Filter [/FlateDecode /FlateDecode]", nestedBomb())
	return onePage(b, ref(s), helvetica)
}

func repeatRef(n, times int) string {
	return "[" + strings.Repeat(ref(n)+" ", times) + "]"
}

func genContentsRepeatBomb() []byte {
	b := &pdfBuilder{}
	s := b.addStream("/Filter [/FlateDecode /FlateDecode]", nestedBomb())
	return onePage(b, repeatRef(s, 40), helvetica)
}

// genContentsRepeat lists one 16 MiB stream (under the stream budget) 40
// times: only counting each listing stops it.
func genContentsRepeat() []byte {
	b := &pdfBuilder{}
	s := b.addStream("/Filter [/FlateDecode /FlateDecode]", zlibBytes(deflateBomb(16<<20, ' ')))
	return onePage(b, repeatRef(s, 40), helvetica)
}

// genDocBytes has three pages listing a 22 MiB stream twice: every page
// is within its budgets, the document's decoded bytes are not.
func genDocBytes() []byte {
	b := &pdfBuilder{}
	s := b.addStream("/Filter [/FlateDecode /FlateDecode]", zlibBytes(deflateBomb(22<<20, ' ')))
	pages := b.reserve()
	var kids []string
	for i := 0; i < 3; i++ {
		kids = append(kids, ref(b.add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Contents %s >>", ref(pages), repeatRef(s, 2)))))
	}
	b.set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 3 >>", strings.Join(kids, " ")))
	return b.bytes(b.add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", ref(pages))), "")
}

// genLongFilterChain wraps the content in five Flate layers.
func genLongFilterChain() []byte {
	data := []byte(helloContent)
	for i := 0; i < 5; i++ {
		data = zlibBytes(data)
	}
	b := &pdfBuilder{}
	s := b.addStream("/Filter [/FlateDecode /FlateDecode /FlateDecode /FlateDecode /FlateDecode]", data)
	return onePage(b, ref(s), helvetica)
}

// opsStream is n operators "Q\n" (Q without a saved state does nothing).
func opsStream(n int) []byte {
	return zlibBytes(bytes.Repeat([]byte("Q\n"), n))
}

// genEndlessContent is 20 million operators in four 5M-operator streams.
func genEndlessContent() []byte {
	b := &pdfBuilder{}
	s := b.addStream("/Filter /FlateDecode", opsStream(5_000_000))
	return onePage(b, repeatRef(s, 4), helvetica)
}

// genDocOps has three pages of 3.9M operators each: every page is under
// the page budget, the document is not.
func genDocOps() []byte {
	b := &pdfBuilder{}
	s := b.addStream("/Filter /FlateDecode", opsStream(3_900_000))
	pages := b.reserve()
	var kids []string
	for i := 0; i < 3; i++ {
		kids = append(kids, ref(b.add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Contents %s >>", ref(pages), ref(s)))))
	}
	b.set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 3 >>", strings.Join(kids, " ")))
	return b.bytes(b.add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", ref(pages))), "")
}

// genPagesCycle: the root Pages node lists itself among its kids.
func genPagesCycle() []byte {
	b := &pdfBuilder{}
	c := b.addStream("", []byte(helloContent))
	pages := b.reserve()
	page := b.add(fmt.Sprintf("<< /Type /Page /Parent %s /Resources %s /Contents %s >>", ref(pages), helvetica, ref(c)))
	b.set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s %s] /Count 3 >>", ref(pages), ref(page)))
	return b.bytes(b.add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", ref(pages))), "")
}

// genDeepPages nests 10,000 Pages nodes above one page.
func genDeepPages() []byte {
	b := &pdfBuilder{}
	c := b.addStream("", []byte(helloContent))
	const depth = 10_000
	first := len(b.objs) + 1
	for i := 0; i < depth; i++ {
		b.reserve()
	}
	page := b.add(fmt.Sprintf("<< /Type /Page /Parent %s /Resources %s /Contents %s >>", ref(first+depth-1), helvetica, ref(c)))
	for i := 0; i < depth; i++ {
		kid := page
		if i < depth-1 {
			kid = first + i + 1
		}
		parent := ""
		if i > 0 {
			parent = "/Parent " + ref(first+i-1)
		}
		b.set(first+i, fmt.Sprintf("<< /Type /Pages %s /Kids [%s] /Count 1 >>", parent, ref(kid)))
	}
	return b.bytes(b.add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", ref(first))), "")
}

// genFlatPages has 100,000 pages in one Kids array, sharing one content
// stream and inheriting their resources.
func genFlatPages() []byte {
	b := &pdfBuilder{}
	c := b.addStream("", []byte(helloContent))
	pages := b.reserve()
	var kids strings.Builder
	for i := 0; i < 100_000; i++ {
		p := b.add(fmt.Sprintf("<</Type/Page/Parent %s/Contents %s>>", ref(pages), ref(c)))
		kids.WriteString(ref(p) + " ")
	}
	b.set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 100000 /MediaBox [0 0 612 792] /Resources %s >>", kids.String(), helvetica))
	return b.bytes(b.add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", ref(pages))), "")
}

// genFormSelf: a form XObject whose resources name itself, drawn by the page.
func genFormSelf() []byte {
	b := &pdfBuilder{}
	form := b.reserve()
	var f bytes.Buffer
	fmt.Fprintf(&f, "<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /X %s >> /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> /Length %d >>\nstream\n", ref(form), len(helloContent)+7)
	f.WriteString(helloContent + " /X Do\nendstream")
	b.set(form, f.String())
	page := b.addStream("", []byte("/X Do"))
	return onePage(b, ref(page), fmt.Sprintf("<< /XObject << /X %s >> >>", ref(form)))
}

// genFormFanout chains 20 forms, each drawing the next 8 times: 8^16
// drawings if nothing stopped it.
func genFormFanout() []byte {
	b := &pdfBuilder{}
	const n = 20
	first := len(b.objs) + 1
	for i := 0; i < n; i++ {
		b.reserve()
	}
	for i := 0; i < n; i++ {
		content := helloContent
		res := helvetica
		if i < n-1 {
			content += strings.Repeat(" /N Do", 8)
			res = fmt.Sprintf("<< /XObject << /N %s >> /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>", ref(first+i+1))
		}
		b.set(first+i, fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources %s /Length %d >>\nstream\n%s\nendstream", res, len(content), content))
	}
	page := b.addStream("", []byte("/N Do"))
	return onePage(b, ref(page), fmt.Sprintf("<< /XObject << /N %s >> >>", ref(first)))
}

// genHugeArrays: a page with 300,000 annotations and a 1,000,000-element
// array in its resources, plus a TJ array of 100,000 elements.
func genHugeArrays() []byte {
	b := &pdfBuilder{}
	annot := b.add("<< /Type /Annot /Subtype /Text /Rect [0 0 1 1] >>")
	arr := b.add("[" + strings.Repeat("0 ", 1_000_000) + "]")
	content := helloContent + " BT /F1 1 Tf [" + strings.Repeat("1 ", 100_000) + "] TJ ET"
	c := b.addStream("/Filter /FlateDecode", zlibBytes([]byte(content)))
	pages := b.reserve()
	page := b.add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> /Huge %s >> /Annots %s /Contents %s >>",
		ref(pages), ref(arr), repeatRef(annot, 300_000), ref(c)))
	b.set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 1 >>", ref(page)))
	return b.bytes(b.add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", ref(pages))), "")
}

// type0Page builds a page showing hexCodes with a Type0 Identity-H font
// whose ToUnicode is cmap and whose descendant has the given W array.
func type0Page(cmapBody string, w string, hexCodes string) []byte {
	b := &pdfBuilder{}
	tu := b.addStream("/Filter /FlateDecode", zlibBytes([]byte(cmapBody)))
	desc := b.add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Absurd /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /W %s >>", w))
	font := b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /Absurd /Encoding /Identity-H /DescendantFonts [%s] /ToUnicode %s >>", ref(desc), ref(tu)))
	c := b.addStream("/Filter /FlateDecode", zlibBytes([]byte("BT /F1 12 Tf 72 700 Td "+hexCodes+" Tj ET")))
	return onePage(b, ref(c), fmt.Sprintf("<< /Font << /F1 %s >> >>", ref(font)))
}

const cmapHead = "/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
const cmapTail = "endcmap CMapName currentdict /CMap defineresource pop end end"

// genBfrangeWrap: ranges ending at 0xFFFFFFFF (4-byte codes), whole
// 32-bit space, next to the two codes the page uses.
func genBfrangeWrap() []byte {
	cm := cmapHead + "3 beginbfrange <FFFFFFF0> <FFFFFFFF> <0041>\n<00000000> <FFFFFFFF> <0030>\n<0001> <0002> <0041> endbfrange\n" + cmapTail
	return type0Page(cm, "[0 [500 500 500]]", "<00010002>")
}

// genBfcharLong maps one code to 100,000 characters and shows it 100,000
// times: 1.4 KB that would be gigabytes of text.
func genBfcharLong() []byte {
	cm := cmapHead + "1 beginbfchar <0001> " + hexUTF16(strings.Repeat("x", 100_000)) + " endbfchar\n" + cmapTail
	return type0Page(cm, "[1 [500]]", "<"+strings.Repeat("0001", 100_000)+">")
}

// genWHuge: W runs starting at 2^53 and covering all 32-bit CIDs.
func genWHuge() []byte {
	cm := cmapHead + "1 beginbfrange <0001> <0002> <0041> endbfrange\n" + cmapTail
	return type0Page(cm, "[9007199254740992 9007199254740999 500 0 4294967295 600 4294967290 [1 2 3 4 5 6 7 8 9 10 11 12] 1 [500 500]]", "<00010002>")
}

// genMillionDeclared: a small file whose trailer declares a million objects.
func genMillionDeclared() []byte {
	b := &pdfBuilder{}
	c := b.addStream("", []byte(helloContent))
	data := onePage(b, ref(c), helvetica)
	return bytes.Replace(data, []byte(fmt.Sprintf("/Size %d ", len(b.objs)+1)), []byte("/Size 1000000 "), 1)
}

// genMillionObjStm packs a million objects into one compressed object
// stream, listed by a compressed cross-reference stream.
func genMillionObjStm() []byte {
	const n = 1_000_000
	var head, body bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&head, "%d %d ", i+10, body.Len())
		body.WriteString("null ")
	}
	first := head.Len()
	objstm := zlibBytes(append(head.Bytes(), body.Bytes()...))

	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n")
	offs := map[int]int{}
	obj := func(num int, s string) { offs[num] = out.Len(); fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", num, s) }
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj(3, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s /Contents 4 0 R >>", helvetica))
	obj(4, fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(helloContent), helloContent))
	offs[5] = out.Len()
	fmt.Fprintf(&out, "5 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n", n, first, len(objstm))
	out.Write(objstm)
	out.WriteString("\nendstream\nendobj\n")
	// Cross-reference stream: entries 0..5 direct, then n compressed ones.
	var xr bytes.Buffer
	row := func(t byte, f2 uint32, f3 uint16) {
		xr.Write([]byte{t, byte(f2 >> 24), byte(f2 >> 16), byte(f2 >> 8), byte(f2), byte(f3 >> 8), byte(f3)})
	}
	row(0, 0, 65535)
	for i := 1; i <= 5; i++ {
		row(1, uint32(offs[i]), 0)
	}
	row(1, uint32(out.Len()), 0) // object 6: the xref stream itself
	for i := 7; i < 10; i++ {
		row(0, 0, 0)
	}
	for i := 0; i < n; i++ {
		row(2, 5, uint16(i))
	}
	xs := zlibBytes(xr.Bytes())
	xrefAt := out.Len()
	fmt.Fprintf(&out, "6 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>\nstream\n", n+10, len(xs))
	out.Write(xs)
	fmt.Fprintf(&out, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xrefAt)
	return out.Bytes()
}
