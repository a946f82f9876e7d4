package pdftext

// ExtractorVersion names the text extraction's behaviour. Change it when
// a change alters the text extracted from the same bytes: it is recorded
// with every tagging and is part of the content cache's key, so tags from
// an older extraction are not reused for a newer one.
//
// 2: accents composed over letters, CID fonts read without ToUnicode, Type 3
// sizes, columns, FreeText notes, CFF built-in encodings (issue 11).
// 3: right-to-left runs drawn leftwards kept whole, Arabic and Hebrew afii
// glyph names (issue 11, right-to-left).
const ExtractorVersion = "3"
