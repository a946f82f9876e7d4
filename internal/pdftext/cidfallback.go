package pdftext

import (
	"encoding/binary"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// cidFallback gives a CID font without a ToUnicode map the text pdftotext
// would find: through its Adobe CJK collection (Adobe-GB1, -CNS1, -Japan1,
// -Korea1), or else through the cmap table of its embedded TrueType
// program, inverted from Unicode-to-glyph into glyph-to-Unicode. The font
// program is decoded (spending decode budget) only when fontFile is set,
// that is when there is no ToUnicode map at all.
func (x *extractor) cidFallback(f *font, cd types.Dict, fontFile bool) {
	info := x.dict(cd["CIDSystemInfo"])
	if i := orderingIndex(x.strText(info["Registry"]), x.strText(info["Ordering"])); i >= 0 {
		f.collection = i
		return
	}
	ff := x.stream(x.dict(cd["FontDescriptor"])["FontFile2"])
	if ff == nil || !fontFile {
		return
	}
	data := x.decode(ff)
	if data == nil {
		return
	}
	f.gidText = trueTypeGlyphText(data)
	if m := x.stream(cd["CIDToGIDMap"]); m != nil {
		if b := x.decode(m); b != nil {
			f.cidToGID = make([]uint16, len(b)/2)
			for i := range f.cidToGID {
				f.cidToGID[i] = binary.BigEndian.Uint16(b[2*i:])
			}
		}
	}
}

// text returns a PDF string object's text, or "".
func (x *extractor) strText(o types.Object) string {
	switch v := x.resolve(o).(type) {
	case types.StringLiteral:
		s, _ := types.StringLiteralToString(v)
		return s
	case types.HexLiteral:
		s, _ := types.HexLiteralToString(v)
		return s
	case types.Name:
		return string(v)
	}
	return ""
}
