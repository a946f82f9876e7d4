package pdftext

import "testing"

// reversedRunes gives the visual (left-to-right on the page) form of a
// purely right-to-left string.
func reversedRunes(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

func TestLogicalOrder(t *testing.T) {
	for _, c := range []struct{ name, visual, want string }{
		{"latin untouched", "Hello world 42", "Hello world 42"},
		{"arabic line", reversedRunes("نموذج تجريبي"), "نموذج تجريبي"},
		{"hebrew line", reversedRunes("שלום עולם"), "שלום עולם"},
		// Visual: the Latin word and the number keep their own direction.
		{"arabic with latin and number", "pdfcpu " + reversedRunes("كيف سمعت عن") + " 12", "12 كيف سمعت عن pdfcpu"},
		{"brackets mirror", "(" + reversedRunes("نص") + ")", "(نص)"},
		{"arabic word inside english", "the word " + reversedRunes("سلام عليكم") + " means", "the word سلام عليكم means"},
		{"number inside arabic piece in english", "please see " + reversedRunes("باب") + " 12 " + reversedRunes("فصل") + " now", "please see فصل 12 باب now"},
	} {
		if got := logicalOrder(c.visual); got != c.want {
			t.Errorf("%s: logicalOrder(%q) = %q, want %q", c.name, c.visual, got, c.want)
		}
	}
}
