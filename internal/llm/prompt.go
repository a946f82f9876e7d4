package llm

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// maxPromptText is how much document text goes into a prompt, as in the
// original product: enough for a good tagging, cheap on tokens.
const maxPromptText = 15000

// PromptVersion names the prompt's wording; change it whenever
// buildPrompt or followUpPrompt change what they ask, so that results
// (and caches) can tell which prompt produced them.
// 2: tags in English by default (translated), or in the document's script.
const PromptVersion = "2"

const systemPrompt = "You tag documents for a search index. You answer with a single JSON object and nothing else."

// tierSplit divides a wanted number of tags over the three tiers in the
// original product's proportions: names 50%, subjects 30%, actions the rest.
func tierSplit(n int) (names, subjects, actions int) {
	names = (n + 1) / 2
	subjects = (n*3 + 5) / 10
	actions = max(n-names-subjects, 0)
	return
}

// buildPrompt asks for about twice the wanted tags: the filters in
// tagging.Normalize typically drop a third, and the surplus lets us keep
// the tier proportions after filtering.
func buildPrompt(req Request, text string) string {
	want := 2 * req.NumTags
	n, s, a := tierSplit(want)
	var b strings.Builder
	fmt.Fprintf(&b, "Suggest about %d tags for the document below, as one JSON object with three arrays:\n", want)
	fmt.Fprintf(&b, "- \"names\": about %d proper nouns: organisations, people, schemes and programmes, laws, products, places.\n", n)
	fmt.Fprintf(&b, "- \"subjects\": about %d topics the document is about.\n", s)
	fmt.Fprintf(&b, "- \"actions\": about %d tags for the kind of document and its purpose (for example \"tender notice\", \"guidelines\", \"funding release\").\n", max(a, 1))
	b.WriteString("Rules: each tag is 1 to 5 words in lowercase; no numbering; no dates, bare numbers or reference numbers; ")
	b.WriteString("no generic words such as \"document\", \"report\", \"information\", \"pdf\", \"details\"; most specific tags first; no duplicates.\n")
	writeLanguage(&b, req)
	writeExclusions(&b, req.Exclusions)
	b.WriteString(`Answer with the JSON object only, shaped like {"names": ["..."], "subjects": ["..."], "actions": ["..."]}.` + "\n\n")
	if t := strings.TrimSpace(req.Title); t != "" {
		fmt.Fprintf(&b, "Title: %s\n", t)
	}
	b.WriteString("Document text:\n\"\"\"\n")
	b.WriteString(text)
	b.WriteString("\n\"\"\"\n")
	return b.String()
}

// followUpPrompt continues the conversation when too few tags survived the
// filters, naming the kept ones so the model does not repeat them.
func followUpPrompt(req Request, kept []string, missing int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "I still need %d more tags for the same document (suggest about %d), following the same rules.\n", missing, 2*missing)
	writeLanguage(&b, req)
	if len(kept) > 0 {
		fmt.Fprintf(&b, "Already chosen, do not repeat them or their variants: %s.\n", strings.Join(kept, ", "))
	}
	writeExclusions(&b, req.Exclusions)
	b.WriteString(`Answer with a JSON object only, shaped like {"tags": ["..."]}.`)
	return b.String()
}

// Language instructions. The English one is what the original product
// asked of non-English documents; asking it always costs nothing on
// English text and spares guessing the language.
const (
	englishRule  = "Write every tag in English whatever the language of the document: translate all named entities and key terms to English (a name with no English form is written in Latin letters)."
	originalRule = "Write every tag in the language and script of the document itself; do not translate."
)

func writeLanguage(b *strings.Builder, req Request) {
	if req.OriginalLanguage {
		b.WriteString(originalRule + "\n")
	} else {
		b.WriteString(englishRule + "\n")
	}
}

func writeExclusions(b *strings.Builder, excl []string) {
	var words []string
	for _, e := range excl {
		if e = strings.TrimSpace(e); e != "" {
			words = append(words, e)
		}
	}
	if len(words) > 0 {
		fmt.Fprintf(b, "Avoid these words entirely: %s.\n", strings.Join(words, ", "))
	}
}

const windowGap = "\n[...]\n"

// reduceText keeps long texts within maxPromptText runes by sampling what
// usually names a document's subject: its start (title, addressee,
// subject line), its middle and its end (signature, issuing office), plus
// lines anywhere that look like headings or subject lines.
func reduceText(s string) string {
	r := []rune(s)
	if len(r) <= maxPromptText {
		return s
	}
	budget := maxPromptText - 3*len([]rune(windowGap))
	startN := budget * 45 / 100
	midN := budget * 20 / 100
	endN := budget * 20 / 100
	headBudget := budget - startN - midN - endN

	midFrom := len(r)/2 - midN/2
	endFrom := len(r) - endN
	heads := headingLines(string(r[startN:endFrom]), headBudget)

	// Unused heading budget goes to the start window.
	startN += headBudget - len([]rune(heads))
	parts := []string{
		trimToWords(r[:startN], false, true),
		heads,
		trimToWords(r[midFrom:midFrom+midN], true, true),
		trimToWords(r[endFrom:], true, false),
	}
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, windowGap)
}

// trimToWords drops the partial words a rune window cut at its edges.
func trimToWords(r []rune, left, right bool) string {
	if left {
		if i := indexFunc(r, unicode.IsSpace); i >= 0 && i < 40 {
			r = r[i+1:]
		}
	}
	if right {
		for j := len(r) - 1; j >= 0 && j > len(r)-40; j-- {
			if unicode.IsSpace(r[j]) {
				r = r[:j]
				break
			}
		}
	}
	return string(r)
}

func indexFunc(r []rune, f func(rune) bool) int {
	for i, c := range r {
		if f(c) {
			return i
		}
	}
	return -1
}

var (
	subjectLine  = regexp.MustCompile(`(?i)^(subject|sub|re|ref|title|regarding|topic|abstract|summary)\s*[:.-]`)
	numberedHead = regexp.MustCompile(`^(\d+(\.\d+)*\.?|[IVX]+\.|[A-Z]\.)\s+\p{Lu}`)
)

// headingLines collects distinct heading-looking lines of text, in order,
// up to budget runes in total.
func headingLines(text string, budget int) string {
	var b strings.Builder
	seen := map[string]bool{}
	used := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.Join(strings.Fields(line), " ")
		n := len([]rune(line))
		if n < 4 || n > 120 || seen[line] || !isHeading(line) {
			continue
		}
		if used+n+1 > budget {
			break
		}
		seen[line] = true
		used += n + 1
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

func isHeading(line string) bool {
	if subjectLine.MatchString(line) {
		return true
	}
	if strings.HasSuffix(line, ".") || strings.HasSuffix(line, ",") {
		return false
	}
	words := strings.Fields(line)
	if len(words) > 10 {
		return false
	}
	if numberedHead.MatchString(line) {
		return true
	}
	letters, upper, capsWords := 0, 0, 0
	for _, w := range words {
		if first := []rune(w)[0]; unicode.IsUpper(first) {
			capsWords++
		}
		for _, c := range w {
			if unicode.IsLetter(c) {
				letters++
				if unicode.IsUpper(c) {
					upper++
				}
			}
		}
	}
	if letters < 4 {
		return false
	}
	// ALL CAPS lines, or short Title Case lines.
	return upper*10 >= letters*8 || (len(words) >= 2 && len(words) <= 8 && capsWords*10 >= len(words)*7)
}
