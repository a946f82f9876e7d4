package pdfgen

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
)

// Expected outcomes of a hostile document. pdfgen cannot import pdftext
// (pdftext's tests import pdfgen), so kinds and budgets are strings: the
// budget names are pdftext's Budget* constants, and each test maps the
// kinds to its own layer's errors or codes.
const (
	KindBudget  = "budget"  // pdftext.ErrBudget, pipeline code extract_budget
	KindCorrupt = "corrupt" // pdftext.ErrCorrupt, pipeline code extract ("damaged")
	KindText    = ""        // success: the text contains Doc.Text

	BudgetStreamBytes = "stream-bytes"
	BudgetPageContent = "page-content"
	BudgetDocDecode   = "document-bytes"
	BudgetObjects     = "objects"
	BudgetPageOps     = "page-operators"
	BudgetDocOps      = "document-operators"
	BudgetPageText    = "page-text"
	BudgetFilters     = "filters"
)

// Doc is one generated attack on the extractor and what it must come to:
// an error of kind Kind (naming Budget when Kind is KindBudget), or
// success with text containing Text.
type Doc struct {
	Name string
	// Data generates the file on first use and keeps it: the suites, the
	// benchmarks and the fuzz seeds of one test binary share one copy.
	Data   func() []byte
	Kind   string
	Budget string
	Text   string
}

func doc(name string, gen func() []byte, kind, budget, text string) Doc {
	return Doc{Name: name, Data: sync.OnceValue(gen), Kind: kind, Budget: budget, Text: text}
}

func budget(name string, gen func() []byte, b string) Doc { return doc(name, gen, KindBudget, b, "") }
func text(name string, gen func() []byte, t string) Doc   { return doc(name, gen, KindText, "", t) }

// hostile is the suite (issue 10 item 7). Each generator is cheap; none of
// the files is committed.
var hostile = []Doc{
	budget("flate-bomb-512MiB", genFlateBomb, BudgetStreamBytes),
	budget("nested-flate-bomb-512MiB", genNestedFlateBomb, BudgetStreamBytes),
	budget("contents-repeat-40x-bomb", genContentsRepeatBomb, BudgetStreamBytes),
	budget("contents-repeat-40x-16MiB", genContentsRepeat, BudgetPageContent),
	budget("document-bytes-3-pages-of-44MiB", genDocBytes, BudgetDocDecode),
	budget("filter-chain-of-5", genLongFilterChain, BudgetFilters),
	budget("endless-content-20M-operators", EndlessContent, BudgetPageOps),
	budget("document-operators-3-pages", genDocOps, BudgetDocOps),
	doc("pages-tree-cycle", genPagesCycle, KindCorrupt, "", ""),
	doc("pages-tree-deep-10000", genDeepPages, KindCorrupt, "", ""),
	text("pages-tree-flat-100000", genFlatPages, "Hello hostile world"),
	text("form-self-reference", FormSelf, "Hello hostile world"),
	budget("forms-recursive-fanout-8", genFormFanout, BudgetPageText),
	text("huge-arrays", genHugeArrays, "Hello hostile world"),
	text("bfrange-to-FFFFFFFF", genBfrangeWrap, "AB"),
	budget("bfchar-100000-chars", genBfcharLong, BudgetPageText),
	text("cidfont-W-at-2^53", genWHuge, "AB"),
	budget("million-objects-declared", genMillionDeclared, BudgetObjects),
	budget("million-objects-objstm", genMillionObjStm, BudgetObjects),
}

// Hostile returns the hostile-input suite. The slice is a copy; the
// documents' Data is shared.
func Hostile() []Doc { return append([]Doc(nil), hostile...) }

const bombSize = 512 << 20

func genFlateBomb() []byte {
	b := &Builder{}
	s := b.AddStream("/Filter /FlateDecode", DeflateBomb(bombSize, ' '))
	return OnePage(b, Ref(s), Helvetica)
}

// nestedBomb is 512 MiB of spaces compressed twice: a few KB.
func nestedBomb() []byte { return Zlib(DeflateBomb(bombSize, ' ')) }

func genNestedFlateBomb() []byte {
	b := &Builder{}
	s := b.AddStream("/Filter [/FlateDecode /FlateDecode]", nestedBomb())
	return OnePage(b, Ref(s), Helvetica)
}

func repeatRef(n, times int) string {
	return "[" + strings.Repeat(Ref(n)+" ", times) + "]"
}

func genContentsRepeatBomb() []byte {
	b := &Builder{}
	s := b.AddStream("/Filter [/FlateDecode /FlateDecode]", nestedBomb())
	return OnePage(b, repeatRef(s, 40), Helvetica)
}

// genContentsRepeat lists one 16 MiB stream (under the stream budget) 40
// times: only counting each listing stops it.
func genContentsRepeat() []byte {
	b := &Builder{}
	s := b.AddStream("/Filter [/FlateDecode /FlateDecode]", Zlib(DeflateBomb(16<<20, ' ')))
	return OnePage(b, repeatRef(s, 40), Helvetica)
}

// genDocBytes has three pages listing a 22 MiB stream twice: every page
// is within its budgets, the document's decoded bytes are not.
func genDocBytes() []byte {
	b := &Builder{}
	s := b.AddStream("/Filter [/FlateDecode /FlateDecode]", Zlib(DeflateBomb(22<<20, ' ')))
	pages := b.Reserve()
	var kids []string
	for i := 0; i < 3; i++ {
		kids = append(kids, Ref(b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Contents %s >>", Ref(pages), repeatRef(s, 2)))))
	}
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 3 >>", strings.Join(kids, " ")))
	return b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", Ref(pages))), "")
}

// genLongFilterChain wraps the content in five Flate layers.
func genLongFilterChain() []byte {
	data := []byte(HelloContent)
	for i := 0; i < 5; i++ {
		data = Zlib(data)
	}
	b := &Builder{}
	s := b.AddStream("/Filter [/FlateDecode /FlateDecode /FlateDecode /FlateDecode /FlateDecode]", data)
	return OnePage(b, Ref(s), Helvetica)
}

// opsStream is n operators "Q\n" (Q without a saved state does nothing).
func opsStream(n int) []byte {
	return Zlib(bytes.Repeat([]byte("Q\n"), n))
}

// EndlessContent is 20 million operators in four 5M-operator streams.
func EndlessContent() []byte {
	b := &Builder{}
	s := b.AddStream("/Filter /FlateDecode", opsStream(5_000_000))
	return OnePage(b, repeatRef(s, 4), Helvetica)
}

// genDocOps has three pages of 3.9M operators each: every page is under
// the page budget, the document is not.
func genDocOps() []byte {
	b := &Builder{}
	s := b.AddStream("/Filter /FlateDecode", opsStream(3_900_000))
	pages := b.Reserve()
	var kids []string
	for i := 0; i < 3; i++ {
		kids = append(kids, Ref(b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Contents %s >>", Ref(pages), Ref(s)))))
	}
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 3 >>", strings.Join(kids, " ")))
	return b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", Ref(pages))), "")
}

// genPagesCycle: the root Pages node lists itself among its kids.
func genPagesCycle() []byte {
	b := &Builder{}
	c := b.AddStream("", []byte(HelloContent))
	pages := b.Reserve()
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /Resources %s /Contents %s >>", Ref(pages), Helvetica, Ref(c)))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s %s] /Count 3 >>", Ref(pages), Ref(page)))
	return b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", Ref(pages))), "")
}

// genDeepPages nests 10,000 Pages nodes above one page.
func genDeepPages() []byte {
	b := &Builder{}
	c := b.AddStream("", []byte(HelloContent))
	const depth = 10_000
	first := len(b.objs) + 1
	for i := 0; i < depth; i++ {
		b.Reserve()
	}
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /Resources %s /Contents %s >>", Ref(first+depth-1), Helvetica, Ref(c)))
	for i := 0; i < depth; i++ {
		kid := page
		if i < depth-1 {
			kid = first + i + 1
		}
		parent := ""
		if i > 0 {
			parent = "/Parent " + Ref(first+i-1)
		}
		b.Set(first+i, fmt.Sprintf("<< /Type /Pages %s /Kids [%s] /Count 1 >>", parent, Ref(kid)))
	}
	return b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", Ref(first))), "")
}

// genFlatPages has 100,000 pages in one Kids array, sharing one content
// stream and inheriting their resources.
func genFlatPages() []byte {
	b := &Builder{}
	c := b.AddStream("", []byte(HelloContent))
	pages := b.Reserve()
	var kids strings.Builder
	for i := 0; i < 100_000; i++ {
		p := b.Add(fmt.Sprintf("<</Type/Page/Parent %s/Contents %s>>", Ref(pages), Ref(c)))
		kids.WriteString(Ref(p) + " ")
	}
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 100000 /MediaBox [0 0 612 792] /Resources %s >>", kids.String(), Helvetica))
	return b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", Ref(pages))), "")
}

// FormSelf: a form XObject whose resources name itself, drawn by the page.
func FormSelf() []byte {
	b := &Builder{}
	form := b.Reserve()
	var f bytes.Buffer
	fmt.Fprintf(&f, "<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /X %s >> /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> /Length %d >>\nstream\n", Ref(form), len(HelloContent)+7)
	f.WriteString(HelloContent + " /X Do\nendstream")
	b.Set(form, f.String())
	page := b.AddStream("", []byte("/X Do"))
	return OnePage(b, Ref(page), fmt.Sprintf("<< /XObject << /X %s >> >>", Ref(form)))
}

// genFormFanout chains 20 forms, each drawing the next 8 times: 8^16
// drawings if nothing stopped it.
func genFormFanout() []byte {
	b := &Builder{}
	const n = 20
	first := len(b.objs) + 1
	for i := 0; i < n; i++ {
		b.Reserve()
	}
	for i := 0; i < n; i++ {
		content := HelloContent
		res := Helvetica
		if i < n-1 {
			content += strings.Repeat(" /N Do", 8)
			res = fmt.Sprintf("<< /XObject << /N %s >> /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>", Ref(first+i+1))
		}
		b.Set(first+i, fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources %s /Length %d >>\nstream\n%s\nendstream", res, len(content), content))
	}
	page := b.AddStream("", []byte("/N Do"))
	return OnePage(b, Ref(page), fmt.Sprintf("<< /XObject << /N %s >> >>", Ref(first)))
}

// genHugeArrays: a page with 300,000 annotations and a 1,000,000-element
// array in its resources, plus a TJ array of 100,000 elements.
func genHugeArrays() []byte {
	b := &Builder{}
	annot := b.Add("<< /Type /Annot /Subtype /Text /Rect [0 0 1 1] >>")
	arr := b.Add("[" + strings.Repeat("0 ", 1_000_000) + "]")
	content := HelloContent + " BT /F1 1 Tf [" + strings.Repeat("1 ", 100_000) + "] TJ ET"
	c := b.AddStream("/Filter /FlateDecode", Zlib([]byte(content)))
	pages := b.Reserve()
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> /Huge %s >> /Annots %s /Contents %s >>",
		Ref(pages), Ref(arr), repeatRef(annot, 300_000), Ref(c)))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 1 >>", Ref(page)))
	return b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", Ref(pages))), "")
}

// type0Page builds a page showing hexCodes with a Type0 Identity-H font
// whose ToUnicode is cmap and whose descendant has the given W array.
func type0Page(cmapBody string, w string, hexCodes string) []byte {
	b := &Builder{}
	tu := b.AddStream("/Filter /FlateDecode", Zlib([]byte(cmapBody)))
	desc := b.Add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Absurd /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /W %s >>", w))
	font := b.Add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /Absurd /Encoding /Identity-H /DescendantFonts [%s] /ToUnicode %s >>", Ref(desc), Ref(tu)))
	c := b.AddStream("/Filter /FlateDecode", Zlib([]byte("BT /F1 12 Tf 72 700 Td "+hexCodes+" Tj ET")))
	return OnePage(b, Ref(c), fmt.Sprintf("<< /Font << /F1 %s >> >>", Ref(font)))
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
	cm := cmapHead + "1 beginbfchar <0001> " + HexUTF16(strings.Repeat("x", 100_000)) + " endbfchar\n" + cmapTail
	return type0Page(cm, "[1 [500]]", "<"+strings.Repeat("0001", 100_000)+">")
}

// genWHuge: W runs starting at 2^53 and covering all 32-bit CIDs.
func genWHuge() []byte {
	cm := cmapHead + "1 beginbfrange <0001> <0002> <0041> endbfrange\n" + cmapTail
	return type0Page(cm, "[9007199254740992 9007199254740999 500 0 4294967295 600 4294967290 [1 2 3 4 5 6 7 8 9 10 11 12] 1 [500 500]]", "<00010002>")
}

// genMillionDeclared: a small file whose trailer declares a million objects.
func genMillionDeclared() []byte {
	b := &Builder{}
	c := b.AddStream("", []byte(HelloContent))
	data := OnePage(b, Ref(c), Helvetica)
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
	objstm := Zlib(append(head.Bytes(), body.Bytes()...))

	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n")
	offs := map[int]int{}
	obj := func(num int, s string) { offs[num] = out.Len(); fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", num, s) }
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj(3, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s /Contents 4 0 R >>", Helvetica))
	obj(4, fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(HelloContent), HelloContent))
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
	xs := Zlib(xr.Bytes())
	xrefAt := out.Len()
	fmt.Fprintf(&out, "6 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>\nstream\n", n+10, len(xs))
	out.Write(xs)
	fmt.Fprintf(&out, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xrefAt)
	return out.Bytes()
}
