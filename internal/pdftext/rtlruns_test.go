package pdftext

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// rtlLine places words the way XeTeX draws an Arabic paragraph (geometry
// taken from hvarabic.pdf): each glyph in reading order, every one left of
// the previous, its origin at its left edge; a number is drawn left to
// right as one piece. A word that starts with "#" is such a number.
func rtlLine(words []string, x, y float64) []placed {
	const size, w, space = 13.09, 3.2, 4.7
	var g []placed
	for _, word := range words {
		if word[0] == '#' {
			ds := []rune(word[1:])
			x -= float64(len(ds)) * 5.12
			for i, d := range ds {
				g = append(g, placed{x: x + float64(i)*5.12, y: y, dx: 5.12, ax: 1, size: size, text: string(d)})
			}
			x -= space
			continue
		}
		for _, r := range word {
			if r == 0x0655 { // hamza below: a zero-width mark just left of its alef
				g = append(g, placed{x: x - 0.3, y: y - 0.4, ax: 1, size: size, text: string(r)})
				continue
			}
			x -= w
			g = append(g, placed{x: x, y: y, dx: w, ax: 1, size: size, text: string(r)})
		}
		x -= space
	}
	return g
}

// TestRightToLeftDrawnWordsStayWhole: glyphs drawn leftwards used to have
// their gaps measured from the run's right edge, so every second letter
// started a new run and words came out in reversed pairs ("قف ةر").
func TestRightToLeftDrawnWordsStayWhole(t *testing.T) {
	words := []string{"فقرة", "عربية", "#١٢٣٤٥", "ا\u0655لى", "اليمين"}
	glyphs := rtlLine(words, 420, 286)
	// A left-to-right line below must be untouched.
	for i, r := range "Hello world" {
		if r != ' ' {
			glyphs = append(glyphs, placed{x: 50 + float64(i)*6, y: 260, dx: 5.5, ax: 1, size: 12, text: string(r)})
		}
	}
	glyphs = append(glyphs, rtlLine([]string{"שלום", "עולם"}, 420, 240)...)
	got, err := layoutPage(context.Background(), glyphs)
	if err != nil {
		t.Fatal(err)
	}
	want := "فقرة عربية ١٢٣٤٥ إلى اليمين\nHello world\nשלום עולם"
	if norm.NFC.String(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestArabicHebrewAfiiGlyphNames: the Dad fonts (dad-user-guide.pdf, a
// LuaTeX document) name Arabic glyphs by AGL afii numbers with a shape
// suffix and have no ToUnicode map; they were dropped, pdftotext reads them.
func TestArabicHebrewAfiiGlyphNames(t *testing.T) {
	for name, want := range map[string]string{
		"afii57409.iso": "ء", "afii57415.fin": "ا", "afii57434": "غ", "afii57440": "ـ",
		"afii57446.ini": "ن", "afii57470.med": "ه", "afii57448": "و", "afii57458": "ْ",
		"afii57392": "٠", "afii57401": "٩", "afii57506.ini": "پ", "afii57509": "گ",
		"afii57664": "א", "afii57690": "ת", "afii57807": "ּ", "afii57435": "",
	} {
		if got := glyphText(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

// TestRightToLeftScriptsChromium reads a real PDF of Hebrew, Arabic, Urdu
// and Persian paragraphs (testdata/rtl-scripts-chromium.html printed by
// headless Chromium 156 with --print-to-pdf; DejaVu Sans subsets, free
// licence). Skia draws each line in visual order with Type 0 fonts and
// ToUnicode maps; the expected text is pdftotext's without its bidi marks
// (both drop the Urdu full stop, which DejaVu Sans lacks).
func TestRightToLeftScriptsChromium(t *testing.T) {
	res, err := ExtractFile(context.Background(), "testdata/rtl-scripts-chromium.pdf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "שלום עולם, זהו מסמך בדיקה בעברית עם מספר 2026 ומילה English באמצע.\n" +
		"مرحبا بالعالم، هذه وثيقة اختبار باللغة العربية من سنة 2026.\n" +
		"یہ اردو زبان میں ایک آزمائشی دستاویز ہے\n" +
		"این یک سند آزمایشی به زبان فارسی است."
	if got := strings.TrimSpace(res.Text); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
