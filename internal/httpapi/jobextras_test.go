package httpapi

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
)

// The rate counts only the outcomes of the recent window and needs two of
// them; the ETA follows from it.
func TestRatePerMinuteWindow(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ago time.Duration) time.Time { return now.Add(-ago) }
	if _, ok := ratePerMinute(nil, now); ok {
		t.Fatal("a rate from nothing")
	}
	if _, ok := ratePerMinute([]time.Time{at(time.Second)}, now); ok {
		t.Fatal("a rate from one outcome")
	}
	// 7 outcomes 10 s apart: 6 intervals in 60 s is 6 a minute; an old
	// one (outside the window) and a future one are left out.
	times := []time.Time{at(20 * time.Minute), now.Add(time.Minute)}
	for i := range 7 {
		times = append(times, at(time.Duration(70-10*i)*time.Second))
	}
	r, ok := ratePerMinute(times, now)
	if !ok || math.Abs(r-6) > 1e-9 {
		t.Fatalf("rate %v %v, want 6/min", r, ok)
	}
	if _, ok := ratePerMinute([]time.Time{at(time.Second), at(time.Second)}, now); ok {
		t.Fatal("a rate from a zero span")
	}
}

func TestRateTrackerForgetsOnPauseAndEnd(t *testing.T) {
	r := newRateTracker(nil)
	now := time.Now()
	for i := range rateSamples + 10 {
		r.observe(envelope("j1", "DocumentTagged", now.Add(time.Duration(i)*time.Millisecond)))
	}
	if n := len(r.times("j1")); n != rateSamples {
		t.Fatalf("%d samples kept, want %d", n, rateSamples)
	}
	r.observe(envelope("j1", "JobPaused", now))
	if n := len(r.times("j1")); n != 0 {
		t.Fatalf("%d samples after a pause", n)
	}
}

func TestScrubURLHidesCallbackAndQuery(t *testing.T) {
	cb := "https://hooks.example.org/in?token=s3cret"
	got := scrubURL(`Post "`+cb+`": refused; token=s3cret`, cb)
	if strings.Contains(got, "s3cret") || strings.Contains(got, "hooks.example.org") {
		t.Fatalf("scrubbed %q", got)
	}
}

func envelope(job, typ string, at time.Time) events.Envelope {
	return events.Envelope{JobID: job, Type: typ, Time: at}
}
