package pdftext

import (
	"bytes"
	"compress/flate"
	_ "embed"
	"encoding/binary"
	"io"
	"sort"
	"sync"
)

// cidtouni.bin holds CID-to-Unicode tables for Adobe's four CJK character
// collections (made by gen_cidtouni.go from Adobe's BSD-licensed CMaps, see
// cidtouni.LICENSE). A CID font without a ToUnicode map whose
// CIDSystemInfo names one of them reads through these, as in pdftotext.
//
//go:embed cidtouni.bin
var cidToUniData []byte

// cidOrderings is the order of the collections in cidtouni.bin.
var cidOrderings = []string{"GB1", "CNS1", "Japan1", "Korea1"}

type cidRun struct {
	cid, n uint32
	uni    rune
}

var (
	cidTablesOnce sync.Once
	cidTables     [][]cidRun
)

// loadCIDTables inflates the tables once, on first use; a build with a
// damaged table reads CJK text as before (empty) rather than failing.
func loadCIDTables() {
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(cidToUniData)))
	if err != nil {
		return
	}
	r := bytes.NewReader(raw)
	tables := make([][]cidRun, 0, len(cidOrderings))
	for range cidOrderings {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > 1<<20 {
			return
		}
		runs := make([]cidRun, 0, n)
		var end uint32
		var uni rune
		for range n {
			gap, err1 := binary.ReadUvarint(r)
			length, err2 := binary.ReadUvarint(r)
			du, err3 := binary.ReadVarint(r)
			if err1 != nil || err2 != nil || err3 != nil {
				return
			}
			cid := end + uint32(gap)
			uni += rune(du)
			runs = append(runs, cidRun{cid: cid, n: uint32(length), uni: uni})
			end = cid + uint32(length)
		}
		tables = append(tables, runs)
	}
	cidTables = tables
}

// orderingIndex returns the table index for an Adobe ordering, or -1.
func orderingIndex(registry, ordering string) int {
	if registry != "Adobe" {
		return -1
	}
	for i, o := range cidOrderings {
		if o == ordering {
			return i
		}
	}
	return -1
}

// cidToUnicode returns the text of cid in collection i, or "".
func cidToUnicode(i int, cid uint32) string {
	cidTablesOnce.Do(loadCIDTables)
	if i < 0 || i >= len(cidTables) {
		return ""
	}
	runs := cidTables[i]
	k := sort.Search(len(runs), func(k int) bool { return runs[k].cid+runs[k].n > cid })
	if k == len(runs) || cid < runs[k].cid {
		return ""
	}
	return string(runs[k].uni + rune(cid-runs[k].cid))
}
