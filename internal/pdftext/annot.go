package pdftext

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// annotations draws the normal appearance of each visible annotation, as
// pdftotext does: free-text notes and filled-in form fields are text.
func (x *extractor) annotations(page types.Dict, out *pageOut) error {
	for i, a := range x.array(page["Annots"]) {
		if i >= 1000 {
			break
		}
		ad := x.dict(a)
		if ad == nil {
			continue
		}
		// Hidden (2) and NoView (32) annotations are not shown.
		if f, _ := x.num(ad["F"]); int(f)&(2|32) != 0 {
			continue
		}
		if x.name(ad["Subtype"]) == "Popup" {
			continue
		}
		ap := x.dict(ad["AP"])
		if ap == nil {
			if x.name(ad["Subtype"]) == "FreeText" {
				x.freeText(ad, out)
			}
			continue
		}
		ref := ap["N"]
		if sd := x.stream(ref); sd == nil {
			// A dictionary of appearance states, chosen by AS.
			states := x.dict(ref)
			ref = states[x.name(ad["AS"])]
		}
		sd := x.stream(ref)
		rect := x.array(ad["Rect"])
		if sd == nil || len(rect) != 4 {
			continue
		}
		var r [4]float64
		for i := range r {
			r[i], _ = x.num(rect[i])
		}
		fm := identity
		if m := x.array(sd.Dict["Matrix"]); len(m) == 6 {
			for i := range fm {
				fm[i], _ = x.num(m[i])
			}
		}
		// Map the form's transformed BBox onto the annotation's Rect.
		bx0, by0, bx1, by1 := r[0], r[1], r[2], r[3]
		if bb := x.array(sd.Dict["BBox"]); len(bb) == 4 {
			var b [4]float64
			for i := range b {
				b[i], _ = x.num(bb[i])
			}
			bx0, by0, bx1, by1 = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
			for _, p := range [][2]float64{{b[0], b[1]}, {b[2], b[1]}, {b[0], b[3]}, {b[2], b[3]}} {
				px, py := fm.apply(p[0], p[1])
				bx0, by0 = math.Min(bx0, px), math.Min(by0, py)
				bx1, by1 = math.Max(bx1, px), math.Max(by1, py)
			}
		}
		sx, sy := 1.0, 1.0
		if bx1-bx0 > 0 {
			sx = (math.Max(r[0], r[2]) - math.Min(r[0], r[2])) / (bx1 - bx0)
		}
		if by1-by0 > 0 {
			sy = (math.Max(r[1], r[3]) - math.Min(r[1], r[3])) / (by1 - by0)
		}
		fit := matrix{sx, 0, 0, sy, math.Min(r[0], r[2]) - bx0*sx, math.Min(r[1], r[3]) - by0*sy}
		content, err := x.decodeFor(sd, true)
		if err != nil {
			return err
		}
		if len(content) == 0 {
			continue
		}
		res := x.dict(sd.Dict["Resources"])
		in := x.newInterp(out, res, gstate{ctm: fm.mul(fit), hscale: 1}, 1)
		if err := in.run(content); err != nil {
			return err
		}
	}
	return nil
}

// maxFreeText caps the text taken from one annotation's Contents.
const maxFreeText = 64 << 10

// freeText shows a free-text annotation that has no appearance stream
// the way pdftotext does, which draws one from its Contents: each line
// from the Rect's top left, in the size its DA string sets (default 10).
func (x *extractor) freeText(ad types.Dict, out *pageOut) {
	text := truncateText(x.strText(ad["Contents"]), maxFreeText)
	rect := x.array(ad["Rect"])
	if text == "" || len(rect) != 4 {
		return
	}
	var r [4]float64
	for i := range r {
		r[i], _ = x.num(rect[i])
	}
	size := 10.0
	if da := strings.Fields(x.strText(ad["DA"])); len(da) > 0 {
		for i, f := range da {
			if f == "Tf" && i > 0 {
				if v, err := strconv.ParseFloat(da[i-1], 64); err == nil && v > 0 && v < 1000 {
					size = v
				}
			}
		}
	}
	if x.pageText += int64(len(text)); x.pageText > x.lim.PageText {
		x.fail(overBudget(BudgetPageText, x.lim.PageText))
		return
	}
	left, top := math.Min(r[0], r[2])+2, math.Max(r[1], r[3])
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r", "\n"), "\n") {
		if len(out.glyphs) >= maxGlyphsPerPage {
			return
		}
		out.glyphs = append(out.glyphs, placed{
			x: left, y: top - float64(i+1)*size*1.2,
			dx: 0.5 * size * float64(utf8.RuneCountInString(line)),
			ax: 1, size: size, text: line,
		})
	}
}
