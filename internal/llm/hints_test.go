package llm

import (
	"testing"
	"time"
)

// Wait hints come from the provider's headers: broken ones are no hint or
// the longest, never negative (a negative wait is no wait at all: the
// client would call again at once).
func TestBrokenWaitHints(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v          string
		retry, rst time.Duration
	}{
		{"NaN", 0, 0},
		{"Inf", maxHint, 0},
		{"1e300", maxHint, 0},
		{"-5", 0, 0},
		{"2000000h", 0, maxHint}, // 228 years: a duration, but no wait anyone means
		{"2", 2 * time.Second, 2 * time.Second},
	} {
		if got := parseRetryAfter(c.v, now); got != c.retry {
			t.Errorf("Retry-After %q = %s, want %s", c.v, got, c.retry)
		}
		if got := parseReset(c.v, now); got != c.rst {
			t.Errorf("reset %q = %s, want %s", c.v, got, c.rst)
		}
	}
}

// FuzzWaitHints: any header value gives a wait between none and maxHint.
func FuzzWaitHints(f *testing.F) {
	for _, s := range []string{"2", "1.5s", "6m0s", "NaN", "-Inf", "1e300", "Wed, 21 Oct 2099 07:28:00 GMT", "1733140800", "1733140800000"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		for _, d := range []time.Duration{parseRetryAfter(v, now), parseReset(v, now)} {
			if d < 0 || d > maxHint {
				t.Fatalf("%q: wait %s", v, d)
			}
		}
	})
}
