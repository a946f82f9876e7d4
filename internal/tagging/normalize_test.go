package tagging

import (
	"reflect"
	"testing"
)

func TestNormalizeRules(t *testing.T) {
	tests := []struct {
		name string
		raw  []string
		excl []string
		max  int
		want []string
	}{
		{"lowercase and trim", []string{"  Water Quality  "}, nil, 0, []string{"water quality"}},
		{"leading numbering", []string{"1. Jal Jeevan Mission", "2) arsenic", "(3) fluoride", "iv. nitrate", "a) tender", "10 - bids"}, nil, 0,
			[]string{"jal jeevan mission", "arsenic", "fluoride", "nitrate", "tender", "bids"}},
		{"bullets and punctuation", []string{"• road safety", "- toll plaza;", "* \"bridges\"", "#budget", "**pavement**"}, nil, 0,
			[]string{"road safety", "toll plaza", "bridges", "budget", "pavement"}},
		{"numbers inside survive", []string{"1.5 mg limit", "2025-26 action plan", "nh-361"}, nil, 0,
			[]string{"1 5 mg limit", "2025 26 action plan", "nh 361"}},
		{"hyphens and underscores", []string{"Nagpur-Wardha", "field_testing_kits"}, nil, 0,
			[]string{"nagpur wardha", "field testing kits"}},
		{"ascii only, accents folded", []string{"Müller Report Café", "जल जीवन", "naïve bayes", "r&d"}, nil, 0,
			[]string{"muller report cafe", "naive bayes", "r and d"}},
		{"apostrophes and acronyms", []string{"women's groups", "U.S. Army"}, nil, 0,
			[]string{"womens groups", "us army"}},
		{"word count", []string{"one two three four five", "one two three four five six"}, nil, 0,
			[]string{"one two three four five"}},
		{"char length", []string{"x", "ab", string(make([]byte, 0)) + "aaa bbb ccc ddd eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"}, nil, 0,
			[]string{"ab"}},
		{"bare numbers, months, roman numerals", []string{"2025", "30", "March", "march 2025", "14th march", "IV", "xii", "phase ii", "sept"}, nil, 0,
			[]string{"phase ii"}},
		{"gibberish", []string{"xkcdqwrtzp", "asdfghjkl", "aaaa batteries", "rhythms", "strengths", "cpp", "html", "wqmis portal", "bcdfghjklm", "aeiouaeiou"}, nil, 0,
			[]string{"rhythms", "strengths", "cpp", "html", "wqmis portal"}},
		{"generic terms", []string{"Document", "documents", "PDF", "contact", "email", "phone", "address", "details", "general", "misc", "other", "various", "information", "data", "report", "the document", "data protection"}, nil, 0,
			[]string{"data protection"}},
		{"stop words only", []string{"the", "of the", "and"}, nil, 0, nil},
		{"exclusions exact", []string{"water quality", "jal jeevan mission"}, []string{"Water-Quality"}, 0,
			[]string{"jal jeevan mission"}},
		{"exclusions cover half", []string{"water quality", "drinking water quality monitoring", "water", "waters"}, []string{"water"}, 0,
			[]string{"drinking water quality monitoring"}},
		{"exclusions as one comma list", []string{"tender", "bridges", "toll plaza"}, []string{"tender, bridge"}, 0,
			[]string{"toll plaza"}},
		{"dedupe and plural", []string{"Water Quality", "water quality", "water-quality", "Bridges", "bridge", "policies", "policy", "status", "statu"}, nil, 0,
			[]string{"water quality", "bridges", "policies", "status", "statu"}},
		{"keeps order and caps", []string{"c tag", "b tag", "a tag", "d tag"}, nil, 2, []string{"c tag", "b tag"}},
		{"cap ignores dropped", []string{"pdf", "data", "alpha", "beta"}, nil, 2, []string{"alpha", "beta"}},
		{"empty", nil, nil, 5, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Normalize(tc.raw, tc.excl, tc.max)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Normalize(%q, %q, %d)\n got  %q\n want %q", tc.raw, tc.excl, tc.max, got, tc.want)
			}
		})
	}
}

func TestIsGeneric(t *testing.T) {
	for tag, want := range map[string]bool{
		"document": true, "Documents": true, "  PDF ": true, "general information": true,
		"contact details": true, "the report": true, "reports": true,
		"water quality": false, "data protection": false, "": false, "tender": false,
	} {
		if got := IsGeneric(tag); got != want {
			t.Errorf("IsGeneric(%q) = %v, want %v", tag, got, want)
		}
	}
}

// TestNormalizeAnyScript: with AnyScript (tag_language "original") tags in
// Devanagari and other scripts survive under the same shape rules, while
// the default still drops them.
func TestNormalizeAnyScript(t *testing.T) {
	raw := []string{"जल जीवन मिशन", "1. शिक्षा मंत्रालय", "Müller Café", "Министерство образования",
		"के", "का की", "२०२५", "गंगा-यमुना", "एक दो तीन चार पाँच छह", "जल जीवन मिशन", "water quality"}
	got := NormalizeWith(raw, []string{"जीवन मिशन"}, 0, Options{AnyScript: true})
	want := []string{"शिक्षा मंत्रालय", "muller cafe", "министерство образования", "गंगा यमुना", "water quality"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("AnyScript:\n got %q\nwant %q", got, want)
	}
	if got := Normalize(raw, nil, 0); !reflect.DeepEqual(got, []string{"muller cafe", "water quality"}) {
		t.Fatalf("default: %q", got)
	}
}
