package pdftext

import (
	"math"
	"sort"
)

// blockKey places a run in reading order: band counts the full-width
// lines above it (titles, abstracts, footers that cross the gutters) and
// col is its column within that band; full-width lines close their band.
type blockKey struct {
	band, col int
}

// Column detection thresholds.
const (
	minGutter      = 1.0 // a gutter is at least this many font sizes wide
	minColumnRuns  = 3   // each side of a gutter holds at least this many runs
	minColumnLines = 2.0 // and both sides overlap vertically by this many sizes
	wideShare      = 0.5 // a run wider than this share of the text crosses gutters
)

// readingBlocks sets each run's key from the columns of its rotation
// group, so that a multi-column page reads column by column, not across
// (which also made hyphen repair join words of different columns). A
// gutter is an x interval that no narrow run crosses, with enough text on
// both sides side by side; runs crossing a gutter (titles, a one-column
// abstract) split the page into bands read top to bottom.
func readingBlocks(runs []*run) {
	byRot := map[int][]*run{}
	for _, r := range runs {
		byRot[r.rot] = append(byRot[r.rot], r)
	}
	for _, group := range byRot {
		gutters := findGutters(group)
		if len(gutters) == 0 {
			continue
		}
		var spanning []*run
		col := func(r *run) (int, bool) {
			c := 0
			for _, g := range gutters {
				switch {
				case r.x1 <= g[0]:
					return c, true
				case r.x0 >= g[1]:
					c++
				default:
					return 0, false // crosses this gutter
				}
			}
			return c, true
		}
		for _, r := range group {
			if _, ok := col(r); !ok {
				spanning = append(spanning, r)
			}
		}
		sort.Slice(spanning, func(i, j int) bool { return spanning[i].base > spanning[j].base })
		for _, r := range group {
			// The band is the number of full-width lines above the run.
			band := sort.Search(len(spanning), func(i int) bool { return spanning[i].base <= r.base+lineDelta*r.size })
			if c, ok := col(r); ok {
				r.key = blockKey{band: band, col: c}
			} else {
				r.key = blockKey{band: band, col: math.MaxInt}
			}
		}
	}
}

// findGutters returns the gutters of one rotation group, left to right.
func findGutters(group []*run) [][2]float64 {
	if len(group) < 2*minColumnRuns {
		return nil
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	sizes := make([]float64, 0, len(group))
	for _, r := range group {
		lo, hi = math.Min(lo, r.x0), math.Max(hi, r.x1)
		sizes = append(sizes, r.size)
	}
	sort.Float64s(sizes)
	size := sizes[len(sizes)/2]
	var narrow []*run
	for _, r := range group {
		if r.x1-r.x0 <= wideShare*(hi-lo) {
			narrow = append(narrow, r)
		}
	}
	// Most lines must be narrow: a one-column page is all wide lines,
	// and the few short ones (headings, page numbers) make no columns.
	if len(narrow) < 2*minColumnRuns || len(narrow) < 2*(len(group)-len(narrow)) {
		return nil
	}
	sort.Slice(narrow, func(i, j int) bool { return narrow[i].x0 < narrow[j].x0 })
	// Vertical extent of the runs left of each position and right of it,
	// so each candidate gap is judged in constant time.
	n := len(narrow)
	preLo, preHi := make([]float64, n+1), make([]float64, n+1)
	sufLo, sufHi := make([]float64, n+1), make([]float64, n+1)
	preLo[0], preHi[0], sufLo[n], sufHi[n] = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i, r := range narrow {
		preLo[i+1], preHi[i+1] = math.Min(preLo[i], r.base), math.Max(preHi[i], r.base)
	}
	for i := n - 1; i >= 0; i-- {
		sufLo[i], sufHi[i] = math.Min(sufLo[i+1], narrow[i].base), math.Max(sufHi[i+1], narrow[i].base)
	}
	var gutters [][2]float64
	end := narrow[0].x1
	for i := 1; i < n; i++ {
		r := narrow[i]
		// Columns: enough runs on each side, overlapping vertically.
		if r.x0-end >= minGutter*size && i >= minColumnRuns && n-i >= minColumnRuns &&
			math.Min(preHi[i], sufHi[i])-math.Max(preLo[i], sufLo[i]) >= minColumnLines*size {
			gutters = append(gutters, [2]float64{end, r.x0})
		}
		end = math.Max(end, r.x1)
	}
	return gutters
}
