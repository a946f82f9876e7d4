package llm

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":     0,
		"1":    time.Second,
		" 30":  30 * time.Second,
		"1.5":  1500 * time.Millisecond,
		"-3":   0,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestProviderMessage(t *testing.T) {
	for in, want := range map[string]string{
		`{"error":{"message":"bad model","type":"invalid_request_error"}}`: "bad model",
		`{"error":"quota gone"}`:      "quota gone",
		`{"message":"plain"}`:         "plain",
		"<html>\n<b>502</b>\n</html>": "<html> <b>502</b> </html>",
	} {
		if got := providerMessage([]byte(in)); got != want {
			t.Errorf("providerMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAnswer(t *testing.T) {
	tests := map[string]tiers{
		`{"names":["A"],"subjects":["B"],"actions":["C"]}`: {names: []string{"A"}, subjects: []string{"B"}, actions: []string{"C"}},
		"```\n{\"tags\": [\"x y\", \"z\"]}\n```":           {flat: []string{"x y", "z"}},
		`Here you go: ["one", "two"] hope it helps`:        {flat: []string{"one", "two"}},
		`{"tags": [{"tag": "alpha"}, {"name": "beta"}]}`:   {flat: []string{"alpha", "beta"}},
		`{"names": "river basin, flood control"}`:          {names: []string{"river basin", "flood control"}},
		"Tags: alpha, beta; gamma\nHere are more:\ndelta":  {flat: []string{"alpha", "beta", "gamma", "delta"}},
		"I cannot tag this document.":                      {},
		`{"names": ["truncated", "answ`:                    {flat: []string{`["truncated`, `answ`}},
	}
	for in, want := range tests {
		if got := parseAnswer(in); !reflect.DeepEqual(got, want) {
			t.Errorf("parseAnswer(%q)\n got  %+v\n want %+v", in, got, want)
		}
	}
}

func TestSelectTagsKeepsTierProportions(t *testing.T) {
	tr := tiers{
		names:    []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"},
		subjects: []string{"s1", "s2", "s3"},
		actions:  []string{"a1"},
	}
	got := selectTags(tr, nil, 8, false)
	want := []string{"n1", "n2", "n3", "n4", "s1", "s2", "a1", "n5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("selectTags = %q, want %q", got, want)
	}
}

func TestReduceText(t *testing.T) {
	short := "short text"
	if reduceText(short) != short {
		t.Error("short text must pass unchanged")
	}
	var b strings.Builder
	b.WriteString("START Ministry of Jal Shakti\n")
	for i := 0; b.Len() < 60000; i++ {
		if i == 400 {
			b.WriteString("Subject: Release of funds for laboratories\n")
		}
		b.WriteString("the quick brown fox jumps over the lazy dog again and again.\n")
	}
	b.WriteString("Director (Water Quality) END\n")
	out := reduceText(b.String())
	if n := len([]rune(out)); n > maxPromptText {
		t.Errorf("reduced to %d runes, want <= %d", n, maxPromptText)
	}
	for _, s := range []string{"START Ministry", "Subject: Release of funds for laboratories", "END", windowGap} {
		if !strings.Contains(out, s) {
			t.Errorf("reduced text lacks %q", s)
		}
	}
	if n := len([]rune(out)); n < maxPromptText*9/10 {
		t.Errorf("reduced to only %d runes: budget wasted", n)
	}
}

func TestIsHeading(t *testing.T) {
	for line, want := range map[string]bool{
		"Subject: Guidelines for water quality":                     true,
		"OFFICE MEMORANDUM":                                         true,
		"2.1 Scope of Work":                                         true,
		"Key Dates And Eligibility":                                 true,
		"the bidder shall have completed at least one similar work": false,
		"This issues with the approval of the competent authority.": false,
	} {
		if got := isHeading(line); got != want {
			t.Errorf("isHeading(%q) = %v, want %v", line, got, want)
		}
	}
}

// TestPacerAdapts checks the pace rules directly: unthrottled at first,
// floor on the first 429, doubling up to the ceiling, x0.8 after three
// successes, off again once well below the floor.
func TestPacerAdapts(t *testing.T) {
	p := &pacer{}
	floor, ceiling := 100*time.Millisecond, 350*time.Millisecond
	p.rateLimited(0, floor, ceiling)
	if p.interval != floor {
		t.Fatalf("after first 429 interval = %v", p.interval)
	}
	p.rateLimited(0, floor, ceiling)
	p.rateLimited(0, floor, ceiling)
	if p.interval != ceiling {
		t.Fatalf("after three 429s interval = %v, want ceiling", p.interval)
	}
	for range 3 {
		p.succeeded(floor)
	}
	if p.interval != 280*time.Millisecond {
		t.Fatalf("after 3 successes interval = %v, want 280ms", p.interval)
	}
	for range 30 {
		p.succeeded(floor)
	}
	if p.interval != 0 {
		t.Fatalf("interval = %v, want pacing off", p.interval)
	}
}

// TestPacerSpacesConcurrentCallers checks that callers released by one
// Retry-After deadline are spaced by the interval instead of bursting.
func TestPacerSpacesConcurrentCallers(t *testing.T) {
	p := &pacer{}
	// Taken before rateLimited, so it is a lower bound of the deadline.
	blocked := time.Now().Add(200 * time.Millisecond)
	p.rateLimited(200*time.Millisecond, 50*time.Millisecond, time.Second)
	var mu sync.Mutex
	var starts []time.Time
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := p.wait(context.Background(), sleepCtx); err != nil {
				t.Error(err)
			}
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
		})
	}
	wg.Wait()
	// Each caller sleeps until its own reserved slot (deadline + i*interval),
	// so the i-th earliest start can be no earlier than the i-th slot.
	slices.SortFunc(starts, time.Time.Compare)
	for i, s := range starts {
		if slot := blocked.Add(time.Duration(i) * 50 * time.Millisecond); s.Before(slot) {
			t.Errorf("caller %d started %v before its slot", i, slot.Sub(s))
		}
	}
}
