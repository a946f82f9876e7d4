package keywords

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// hindiStopWords are Hindi postpositions, pronouns, auxiliaries and the
// boilerplate verbs of official letters ("किया जाता है").
var hindiStopWords = strings.Fields(`
का की के को में से पर तक ने और या तथा एवं व भी ही तो न नहीं
है हैं था थी थे हो होगा होगी होंगे होता होती होते हुआ हुई हुए रहा रही रहे
यह वह ये वे इस उस इन उन इसे उसे इसका उसका इसकी उसकी इनके उनके इसके उसके
जो जिस जिन जिसे जिनके कोई कुछ सभी सब एक अपने अपना अपनी आप हम मैं
किया किए की गई गया गए करना करने करें करता करती करते कर जाता जाती जाते जाना जाए
द्वारा लिए लिये संबंध अनुसार साथ बाद पहले अंतर्गत अन्तर्गत प्रति बीच ऊपर नीचे
कृपया सूचित संबंधित उक्त निम्न निम्नलिखित उपरोक्त यदि जब तब तथापि परंतु लेकिन किंतु अतः
श्री श्रीमती सुश्री दिनांक क्रमांक संख्या
`)

// texWords are TeX and LaTeX control words and option values that
// documentation of TeX packages is full of ("\def", "true", "ex"): they
// are code, never a document's subject.
var texWords = strings.Fields(`
def edef gdef xdef let newcommand renewcommand providecommand newenvironment renewenvironment
usepackage documentclass makeatletter makeatother relax ifx ifnum ifdim iftrue iffalse fi else
expandafter noexpand csname endcsname hbox vbox hskip vskip hspace vspace noindent textbf textit
texttt emph mbox makebox catcode newif setlength addtolength begingroup endgroup bgroup egroup
ifthenelse newcounter setcounter stepcounter addtocounter
true false pt em ex bp sp dd cc mu tt rm sf bf sl sc mathrm mathbf
toks dimen tempa tempb tempc tempcnta tempdima obeyspaces minipage normalfont gobble
`)

func init() {
	for _, w := range hindiStopWords {
		stopWords[w] = true
		stopWords[strings.ToLower(transliterate(w))] = true
	}
	for _, w := range texWords {
		stopWords[w] = true
	}
}

var controlWord = regexp.MustCompile(`\\([A-Za-z@]{2,})`)

// controlWords are the words a text writes as TeX commands ("\\citep",
// "\\begin"): in TeX documentation they are code, so they are not taken
// as subjects anywhere in that text.
func controlWords(text string) map[string]bool {
	if !strings.Contains(text, "\\") {
		return nil
	}
	m := map[string]bool{}
	for _, sm := range controlWord.FindAllStringSubmatch(text, -1) {
		m[strings.ToLower(sm[1])] = true
	}
	return m
}

// junk reports a word that may never be (part of) a tag: one with digits
// ("t1", "2e"), or a Latin word of fewer than 3 letters ("te") or a word of
// another script with fewer than 2 letters.
func junk(w string) bool {
	if strings.ContainsFunc(w, unicode.IsDigit) {
		return true
	}
	letters, latin := 0, true
	for _, r := range w {
		if unicode.IsLetter(r) {
			letters++
			if r >= 0x80 && !unicode.Is(unicode.Latin, r) {
				latin = false
			}
		}
	}
	if latin {
		return utf8.RuneCountInString(w) < 3
	}
	return letters < 2
}

// Options change ExtractWith.
type Options struct {
	// KeepScript keeps tags in the document's script (tag_language
	// "original"). Without it Devanagari is transliterated to ASCII and
	// text in other non-Latin scripts cannot be tagged.
	KeepScript bool
}

// ExtractWith is Extract with options. It fails with a plain message when
// English tags are wanted from text in a script it cannot transliterate.
func ExtractWith(text string, n int, exclusions []string, o Options) ([]string, error) {
	if !o.KeepScript {
		text = transliterate(text)
	}
	tags := extract(text, n, exclusions, o.KeepScript)
	if len(tags) == 0 && !o.KeepScript {
		if script := scriptOf(text); script != "" {
			return nil, fmt.Errorf("builtin/keywords cannot make English tags from text in the %s script (it transliterates Devanagari only); set tag_language to \"original\" to keep the document's script, or use a model", script)
		}
	}
	return tags, nil
}
