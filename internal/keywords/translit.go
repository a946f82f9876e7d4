package keywords

import (
	"strings"
	"unicode"
)

// Devanagari to ASCII: ISO 15919 with its diacritics folded away ("ā" ->
// "a", "ś" -> "s", "ṭ" -> "t"), so that Hindi text yields tags that an
// ASCII index accepts when tag_language is "en". Two Hindi conventions
// make the result read as people write Hindi names in Latin letters: the
// inherent "a" is dropped at the end of a word of two or more letters
// ("भारत" -> "bharat", not "bharata"), and the anusvara is "n", or "m"
// before p, b and m ("मंत्रालय" -> "mantralay", "संबंध" -> "sambandh").

var devaConsonants = map[rune]string{
	'क': "k", 'ख': "kh", 'ग': "g", 'घ': "gh", 'ङ': "n",
	'च': "c", 'छ': "ch", 'ज': "j", 'झ': "jh", 'ञ': "n",
	'ट': "t", 'ठ': "th", 'ड': "d", 'ढ': "dh", 'ण': "n",
	'त': "t", 'थ': "th", 'द': "d", 'ध': "dh", 'न': "n", 'ऩ': "n",
	'प': "p", 'फ': "ph", 'ब': "b", 'भ': "bh", 'म': "m",
	'य': "y", 'र': "r", 'ऱ': "r", 'ल': "l", 'ळ': "l", 'ऴ': "l", 'व': "v",
	'श': "s", 'ष': "s", 'स': "s", 'ह': "h",
	// precomposed nukta letters
	'\u0958': "q", '\u0959': "kh", '\u095A': "g", '\u095B': "z", '\u095C': "r", '\u095D': "rh", '\u095E': "f", '\u095F': "y",
}

// nukta changes a few consonants' sounds.
var devaNukta = map[rune]string{'क': "q", 'ख': "kh", 'ग': "g", 'ज': "z", 'ड': "r", 'ढ': "rh", 'फ': "f", 'य': "y"}

var devaVowels = map[rune]string{
	'अ': "a", 'आ': "a", 'इ': "i", 'ई': "i", 'उ': "u", 'ऊ': "u", 'ऋ': "r", 'ॠ': "r",
	'ऌ': "l", 'ए': "e", 'ऐ': "ai", 'ओ': "o", 'औ': "au", 'ऑ': "o", 'ऍ': "e", 'ऎ': "e", 'ऒ': "o",
}

var devaSigns = map[rune]string{
	'ा': "a", 'ि': "i", 'ी': "i", 'ु': "u", 'ू': "u", 'ृ': "r", 'ॄ': "r",
	'े': "e", 'ै': "ai", 'ो': "o", 'ौ': "au", 'ॉ': "o", 'ॅ': "e", 'ॆ': "e", 'ॊ': "o",
}

const (
	virama      = '्'
	nuktaSign   = '़'
	anusvara    = 'ं'
	candrabindu = 'ँ'
	visarga     = 'ः'
)

func isDevanagari(r rune) bool { return r >= 0x0900 && r <= 0x097F }

// transliterate rewrites the Devanagari in s into ASCII and leaves other
// text as it is; dandas become full stops.
func transliterate(s string) string {
	if !strings.ContainsFunc(s, isDevanagari) {
		return s
	}
	rs := []rune(s)
	var b strings.Builder
	letters := 0     // letters written in the current word
	pending := false // a consonant waits for its vowel
	flush := func(final bool) {
		if pending && !(final && letters > 1) {
			b.WriteByte('a')
		}
		pending = false
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		next := rune(0)
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		wordEnds := !isDevanagari(next) || next == '।' || next == '॥'
		if c, ok := devaConsonants[r]; ok {
			flush(false)
			if next == nuktaSign {
				if n, ok := devaNukta[r]; ok {
					c = n
				}
				i++
				if i+1 < len(rs) {
					next = rs[i+1]
				} else {
					next = 0
				}
				wordEnds = !isDevanagari(next) || next == '।' || next == '॥'
			}
			b.WriteString(c)
			letters++
			pending = true
			if wordEnds {
				flush(true)
				letters = 0
			}
			continue
		}
		switch {
		case devaVowels[r] != "":
			flush(false)
			b.WriteString(devaVowels[r])
			letters++
		case devaSigns[r] != "":
			pending = false
			b.WriteString(devaSigns[r])
		case r == virama:
			pending = false
		case r == anusvara || r == candrabindu:
			flush(false)
			if strings.HasPrefix(devaConsonants[next], "p") || strings.HasPrefix(devaConsonants[next], "b") || devaConsonants[next] == "m" {
				b.WriteByte('m')
			} else {
				b.WriteByte('n')
			}
		case r == visarga:
			flush(false)
			b.WriteByte('h')
		case r == 'ॐ':
			flush(false)
			b.WriteString("om")
		case r == '।' || r == '॥':
			flush(true)
			b.WriteByte('.')
		case r >= '०' && r <= '९':
			flush(true)
			b.WriteRune('0' + (r - '०'))
		case isDevanagari(r):
			flush(false) // other signs (nukta alone, avagraha): nothing to write
		default:
			flush(true)
			b.WriteRune(r)
		}
		if wordEnds && isDevanagari(r) {
			flush(true)
		}
		if !isDevanagari(r) || wordEnds {
			letters = 0
		}
	}
	flush(true)
	return b.String()
}

// scriptOf names the first non-Latin script with letters in s, or "".
func scriptOf(s string) string {
	for _, r := range s {
		if !unicode.IsLetter(r) || unicode.Is(unicode.Latin, r) {
			continue
		}
		for name, tab := range unicode.Scripts {
			if unicode.Is(tab, r) {
				return name
			}
		}
	}
	return ""
}
