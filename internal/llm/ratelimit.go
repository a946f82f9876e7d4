package llm

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Rate budgets from the headers OpenAI-compatible providers send with every
// answer: x-ratelimit-{limit,remaining,reset}-{requests,tokens}. They
// describe a bucket that refills continuously; reset is the time until it
// is full again, so (limit-remaining)/reset is the refill rate. While the
// bucket holds more than the calls in flight, calls go out unpaced (the
// burst is ours to use); once it runs low, calls are spaced at a little
// under the refill rate, so the bucket never quite empties.
const (
	budgetReserve = 1    // calls kept in the bucket against races
	budgetRateUse = 0.95 // share of the refill rate we use
)

// bucketHeader is one dimension (requests or tokens) of a rate-limit answer.
type bucketHeader struct {
	limit, remaining float64
	reset            time.Duration
	ok               bool
}

// rateHeaders is what one answer announced.
type rateHeaders struct {
	requests, tokens bucketHeader
}

func parseRateHeaders(h http.Header, now time.Time) rateHeaders {
	return rateHeaders{requests: parseBucket(h, "requests", now), tokens: parseBucket(h, "tokens", now)}
}

func parseBucket(h http.Header, dim string, now time.Time) bucketHeader {
	limit, err1 := strconv.ParseFloat(strings.TrimSpace(h.Get("X-Ratelimit-Limit-"+dim)), 64)
	rem, err2 := strconv.ParseFloat(strings.TrimSpace(h.Get("X-Ratelimit-Remaining-"+dim)), 64)
	if err1 != nil || err2 != nil || limit <= 0 || rem < 0 {
		return bucketHeader{}
	}
	return bucketHeader{limit: limit, remaining: rem, reset: parseReset(h.Get("X-Ratelimit-Reset-"+dim), now), ok: true}
}

// parseReset accepts OpenAI's Go-style durations ("6m0s", "20ms", "1.5s"),
// plain seconds, and the epoch timestamps (seconds or milliseconds) some
// routers send.
func parseReset(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if d, err := time.ParseDuration(v); err == nil {
		return clampHint(d)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) {
		return 0
	}
	switch {
	case f > 1e15: // past any epoch in milliseconds: a broken header
		return 0
	case f > 1e12: // epoch milliseconds
		return clampHint(time.UnixMilli(int64(f)).Sub(now))
	case f > 1e9: // epoch seconds
		return clampHint(time.Unix(int64(f), 0).Sub(now))
	}
	return seconds(f)
}

// budget turns announced buckets into calls that may start at once
// (credit) and the spacing of calls once the credit is spent (interval, 0
// when no bucket constrains). others is the number of our calls in flight
// that the answer may not have counted yet; tokensPerCall the observed
// average cost of a call in tokens (0 = unknown, tokens then ignored).
func budget(rh rateHeaders, others int, tokensPerCall float64) (credit float64, interval time.Duration, known bool) {
	credit = -1
	dims := []struct {
		b    bucketHeader
		cost float64
	}{{rh.requests, 1}, {rh.tokens, tokensPerCall}}
	for _, d := range dims {
		if !d.b.ok || d.cost <= 0 {
			continue
		}
		c := d.b.remaining/d.cost - float64(others) - budgetReserve
		if !known || c < credit {
			credit = c
		}
		known = true
		if d.b.remaining < d.b.limit && d.b.reset > 0 {
			callsPerSec := (d.b.limit - d.b.remaining) / d.b.reset.Seconds() / d.cost * budgetRateUse
			if iv := time.Duration(float64(time.Second) / callsPerSec); iv > interval {
				interval = iv
			}
		}
	}
	if !known {
		return 0, 0, false
	}
	return max(credit, 0), interval, true
}

// hasRoom reports whether buckets were announced and all had room for
// another call: a 429 then means too many calls at once.
func (rh rateHeaders) hasRoom() bool {
	if !rh.requests.ok && !rh.tokens.ok {
		return false
	}
	return (!rh.requests.ok || rh.requests.remaining >= 1) && (!rh.tokens.ok || rh.tokens.remaining >= 1)
}
