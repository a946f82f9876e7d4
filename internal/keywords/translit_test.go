package keywords

import "testing"

func TestTransliterate(t *testing.T) {
	for in, want := range map[string]string{
		"भारत सरकार":             "bharat sarakar",
		"शिक्षा मंत्रालय":        "siksa mantralay",
		"जल जीवन मिशन":           "jal jivan misan",
		"नई दिल्ली, 2 जून 2025।": "nai dilli, 2 jun 2025.",
		"प्रधानमंत्री पोषण":      "pradhanamantri posan",
		"संबंध":                  "sambandh",
		"क़ानून ज़िला":           "qanun zila",
		"न":                      "na",
		"२०२५":                   "2025",
		"Ministry मध्याह्न":      "Ministry madhyahn",
	} {
		if got := transliterate(in); got != want {
			t.Errorf("transliterate(%q) = %q, want %q", in, got, want)
		}
	}
}
