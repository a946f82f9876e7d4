package llmfake

import (
	"fmt"
	"strings"
)

// Canned answers, in the three-tier JSON the prompt asks for.
const (
	// EnglishTiers answers an English document (the water circular):
	// 6 names, 4 subjects and 2 actions.
	EnglishTiers = `{"names": ["Jal Jeevan Mission", "Ministry of Jal Shakti", "Gram Panchayat", "WQMIS portal", "NABL", "New Delhi"],
 "subjects": ["water quality", "arsenic contamination", "field testing kits", "laboratory strengthening"],
 "actions": ["office memorandum", "monitoring guidelines"]}`
	// HindiTiersEnglish answers a Hindi document when asked for English.
	HindiTiersEnglish = `{"names": ["Ministry of Education", "PM POSHAN scheme", "Government of India", "State Food Safety Authority"],
 "subjects": ["mid-day meal quality", "school nutrition", "food safety inspection"],
 "actions": ["office memorandum", "monitoring guidelines", "circular"]}`
	// HindiTiers answers a Hindi document in its own language.
	HindiTiers = `{"names": ["शिक्षा मंत्रालय", "प्रधानमंत्री पोषण शक्ति निर्माण योजना", "भारत सरकार", "राज्य खाद्य सुरक्षा प्राधिकरण"],
 "subjects": ["मध्याह्न भोजन", "भोजन की गुणवत्ता", "विद्यालय निरीक्षण"],
 "actions": ["कार्यालय ज्ञापन", "गुणवत्ता निगरानी", "परिपत्र"]}`
)

// languageAware answers like a real model on language: in the language of
// the document text in the prompt (Devanagari or not) unless the
// instructions before the text ask for English.
func languageAware(prompt string) string {
	instr, doc, _ := strings.Cut(prompt, "Document text:")
	switch {
	case !HasDevanagari(doc):
		return EnglishTiers
	case strings.Contains(instr, "in English"):
		return HindiTiersEnglish
	}
	return HindiTiers
}

// HasDevanagari reports whether s holds a Devanagari letter.
func HasDevanagari(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= 0x0900 && r <= 0x097F })
}

// wrap dresses a JSON answer the way models do although asked for bare
// JSON, alternating between the shapes seen most: a ```json fence, and
// prose around the object.
func wrap(content string, k int64) string {
	if k%2 == 1 {
		return "```json\n" + content + "\n```"
	}
	return fmt.Sprintf("Here are the tags for this document:\n\n%s\n\nLet me know if you would like more specific tags.", content)
}
