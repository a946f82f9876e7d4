//go:build ignore

// gen_cidtouni writes cidtouni.bin, the CID-to-Unicode tables of the four
// Adobe CJK character collections, for CID fonts that have no ToUnicode
// map. It inverts Adobe's Unicode CMaps (Uni*-UTF16-H, BSD-3-Clause, see
// cidtouni.LICENSE) as Debian's poppler-data package installs them:
//
//	apt-get install poppler-data && go run gen_cidtouni.go
//
// Format (then deflated): per collection, uvarint run count, then per run
// uvarint(CID gap from the previous run's end), uvarint(length),
// varint(Unicode start minus the previous run's start).
package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Keep the order in sync with cidOrderings in cidtouni.go.
var cmaps = []string{
	"Adobe-GB1/UniGB-UTF16-H",
	"Adobe-CNS1/UniCNS-UTF16-H",
	"Adobe-Japan1/UniJIS-UTF16-H",
	"Adobe-Korea1/UniKS-UTF16-H",
}

func main() {
	var out bytes.Buffer
	for _, name := range cmaps {
		best := read("/usr/share/poppler/cMap/" + name)
		cids := make([]int, 0, len(best))
		for c := range best {
			cids = append(cids, c)
		}
		sort.Ints(cids)
		type run struct{ cid, n, uni int }
		var runs []run
		for _, c := range cids {
			if k := len(runs) - 1; k >= 0 && runs[k].cid+runs[k].n == c && runs[k].uni+runs[k].n == int(best[c]) {
				runs[k].n++
				continue
			}
			runs = append(runs, run{c, 1, int(best[c])})
		}
		out.Write(binary.AppendUvarint(nil, uint64(len(runs))))
		end, uni := 0, 0
		for _, r := range runs {
			out.Write(binary.AppendUvarint(nil, uint64(r.cid-end)))
			out.Write(binary.AppendUvarint(nil, uint64(r.n)))
			out.Write(binary.AppendVarint(nil, int64(r.uni-uni)))
			end, uni = r.cid+r.n, r.uni
		}
		fmt.Fprintf(os.Stderr, "%s: %d CIDs in %d runs\n", name, len(cids), len(runs))
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write(out.Bytes())
	w.Close()
	if err := os.WriteFile("cidtouni.bin", z.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}

// read inverts one Unicode-to-CID CMap, choosing per CID the Unicode
// value a reader expects: a unified ideograph over a compatibility one or
// a radical, then the smallest.
func read(path string) map[int]rune {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	best := map[int]rune{}
	add := func(u rune, cid int) {
		if old, ok := best[cid]; !ok || rank(u) < rank(old) || rank(u) == rank(old) && u < old {
			best[cid] = u
		}
	}
	mode := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasSuffix(l, "begincidchar"):
			mode = "char"
			continue
		case strings.HasSuffix(l, "begincidrange"):
			mode = "range"
			continue
		case strings.HasPrefix(l, "end"):
			mode = ""
			continue
		}
		fs := strings.Fields(l)
		switch {
		case mode == "char" && len(fs) == 2:
			cid, _ := strconv.Atoi(fs[1])
			add(hexRune(fs[0]), cid)
		case mode == "range" && len(fs) == 3:
			lo, hi := hexRune(fs[0]), hexRune(fs[1])
			cid, _ := strconv.Atoi(fs[2])
			for u := lo; u <= hi; u++ {
				add(u, cid+int(u-lo))
			}
		}
	}
	return best
}

func rank(u rune) int {
	switch {
	case u >= 0xF900 && u <= 0xFAFF, u >= 0x2F800 && u <= 0x2FA1F, u >= 0x2E80 && u <= 0x2FDF, u >= 0xFE30 && u <= 0xFE4F:
		return 2
	case u > 0xFFFF:
		return 1
	}
	return 0
}

func hexRune(s string) rune {
	v, err := strconv.ParseUint(strings.Trim(s, "<>"), 16, 32)
	if err != nil {
		log.Fatal(err)
	}
	if len(s) == 10 { // a surrogate pair
		return utf16.DecodeRune(rune(v>>16), rune(v&0xFFFF))
	}
	return rune(v)
}
