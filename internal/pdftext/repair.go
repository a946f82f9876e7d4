package pdftext

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
)

// rebuildXref repairs a file whose cross-reference table is wrong or
// missing, as pdftotext does: it scans the bytes for "N G obj" markers
// (a later definition wins, as in an incremental update) and appends a
// fresh xref table and trailer that point at them, so pdfcpu reads the
// file through the new table. Object numbers above maxObj are ignored,
// which keeps the new table within the object budget. It reports false
// when it finds no catalog to use as the root.
func rebuildXref(data []byte, maxObj int) ([]byte, bool) {
	type loc struct {
		off int
		gen int
	}
	objs := map[int]loc{}
	maxNum := 0
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte("obj"))
		if i < 0 {
			break
		}
		i += off
		off = i + 3
		if off < len(data) && isRegular(data[off]) {
			continue
		}
		// Walk back over " G " and "N".
		j := i
		gen, ok := 0, false
		if j, gen, ok = numberBefore(data, j); !ok {
			continue
		}
		num := 0
		if j, num, ok = numberBefore(data, j); !ok || num <= 0 || num > maxObj {
			continue
		}
		if j > 0 && isRegular(data[j-1]) {
			continue
		}
		objs[num] = loc{j, gen}
		maxNum = max(maxNum, num)
	}
	root := lastRef(data, rootRef)
	if _, ok := objs[root]; !ok {
		root = 0
		for n, l := range objs {
			body := data[l.off:min(len(data), l.off+512)]
			if e := bytes.Index(body, []byte("endobj")); e >= 0 {
				body = body[:e]
			}
			if catalogType.Match(body) && (root == 0 || n > root) {
				root = n
			}
		}
	}
	if root == 0 {
		return nil, false
	}
	var b bytes.Buffer
	b.Grow(len(data) + 20*(maxNum+1) + 256)
	b.Write(data)
	b.WriteString("\n")
	start := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", maxNum+1)
	for n := 1; n <= maxNum; n++ {
		if l, ok := objs[n]; ok {
			fmt.Fprintf(&b, "%010d %05d n \n", l.off, min(l.gen, 65535))
		} else {
			b.WriteString("0000000000 65535 f \n")
		}
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d 0 R", maxNum+1, root)
	if enc := lastRef(data, encryptRef); enc > 0 {
		fmt.Fprintf(&b, " /Encrypt %d 0 R", enc)
	}
	if id := lastMatch(data, idArray); id != nil {
		b.WriteString(" /ID ")
		b.Write(id)
	}
	fmt.Fprintf(&b, " >>\nstartxref\n%d\n%%%%EOF\n", start)
	return b.Bytes(), true
}

var (
	rootRef     = regexp.MustCompile(`/Root\s*(\d{1,9})\s+\d{1,5}\s+R`)
	encryptRef  = regexp.MustCompile(`/Encrypt\s*(\d{1,9})\s+\d{1,5}\s+R`)
	idArray     = regexp.MustCompile(`/ID\s*(\[\s*<[0-9A-Fa-f]{0,128}>\s*<[0-9A-Fa-f]{0,128}>\s*\])`)
	catalogType = regexp.MustCompile(`/Type\s*/Catalog\b`)
)

// lastRef returns the object number of re's last match, or 0.
func lastRef(data []byte, re *regexp.Regexp) int {
	m := lastMatch(data, re)
	n, _ := strconv.Atoi(string(m))
	return n
}

// lastMatch returns the first group of re's last match in data, or nil.
func lastMatch(data []byte, re *regexp.Regexp) []byte {
	all := re.FindAllSubmatchIndex(data, -1)
	if len(all) == 0 {
		return nil
	}
	m := all[len(all)-1]
	return data[m[2]:m[3]]
}

// numberBefore reads the decimal number that ends, after whitespace, just
// before data[i]; it returns the number's start.
func numberBefore(data []byte, i int) (int, int, bool) {
	j := i
	for j > 0 && isWhite(data[j-1]) && i-j < 16 {
		j--
	}
	if j == i {
		return i, 0, false
	}
	end := j
	for j > 0 && data[j-1] >= '0' && data[j-1] <= '9' && end-j < 9 {
		j--
	}
	if j == end {
		return i, 0, false
	}
	n, err := strconv.Atoi(string(data[j:end]))
	return j, n, err == nil
}
