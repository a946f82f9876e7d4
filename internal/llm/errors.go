package llm

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tagstream/tagstream/internal/capread"
)

// Kind classifies a failed model call so that callers can decide what it
// means for the job: auth fails the job, rate_limited/server/timeout are
// transient, bad_request and malformed fail only the document.
type Kind string

// The error kinds returned by Tag.
const (
	KindAuth        Kind = "auth"
	KindRateLimited Kind = "rate_limited"
	KindBadRequest  Kind = "bad_request"
	KindServer      Kind = "server"
	KindTimeout     Kind = "timeout"
	KindMalformed   Kind = "malformed"
)

// Error is the only error type Tag returns, apart from the caller's own
// context error when the caller cancelled. Message never contains the API
// key.
type Error struct {
	Kind       Kind
	Status     int           // HTTP status, 0 when there was no response
	RetryAfter time.Duration // from the Retry-After header, 0 when absent
	Message    string
}

// Error returns the human-readable message: "invalid API key for model X"
// for auth, the provider's own message for bad_request.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Status != 0 {
		return fmt.Sprintf("model request failed (%s, HTTP %d)", e.Kind, e.Status)
	}
	return fmt.Sprintf("model request failed (%s)", e.Kind)
}

// Transient reports whether retrying later may succeed.
func (e *Error) Transient() bool {
	return e.Kind == KindRateLimited || e.Kind == KindServer || e.Kind == KindTimeout
}

// maxErrorBody bounds how much of an error response we read: providers
// sometimes answer with a whole HTML page.
const maxErrorBody = 64 << 10

// maxAnswerBody bounds a successful answer, which langchaingo reads whole
// into memory: a chat completion of a few tags is a few KiB, and an
// endpoint that streams without end must not take the process's memory.
const maxAnswerBody = 4 << 20

// errAnswerTooLarge fails the read that would pass maxAnswerBody, so the
// answer is refused as malformed rather than cut into something that parses.
var errAnswerTooLarge = &Error{Kind: KindMalformed, Message: fmt.Sprintf("model answer larger than %d MiB", maxAnswerBody>>20)}

// doer is the HTTP client handed to langchaingo. It turns every non-2xx
// answer into *Error, which langchaingo returns unchanged (its
// sanitizeHTTPError only rewrites context and net.Error values), so the
// status and Retry-After survive the trip through the library.
type doer struct {
	client *http.Client
	key    string        // only to redact it from provider messages
	calls  *atomic.Int64 // HTTP requests sent, for Result.Calls
	now    func() time.Time

	before  func(ctx context.Context) error            // optional: last wait before sending
	limited func(status int, retryAfter time.Duration) // optional: a non-2xx answer carried Retry-After
	headers func(h http.Header)                        // optional: every answer's headers (rate limits)
}

// Do sends req and classifies the outcome.
func (d *doer) Do(req *http.Request) (*http.Response, error) {
	if d.before != nil {
		if err := d.before(req.Context()); err != nil {
			return nil, err
		}
	}
	d.calls.Add(1)
	resp, err := d.client.Do(req)
	if err != nil {
		if req.Context().Err() != nil {
			// Let the caller see its own deadline: Tag inspects ctx.Err().
			return nil, req.Context().Err()
		}
		if cause := connectionCause(err); cause != "" {
			return nil, unreachableError(req.URL, cause)
		}
		// A reset mid-answer and friends are worth a retry, like a 5xx.
		return nil, &Error{Kind: KindServer, Message: "model endpoint unreachable: " + redact(transportMessage(err), d.key)}
	}
	if d.headers != nil {
		d.headers(resp.Header)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		resp.Body = capread.NewCloser(resp.Body, maxAnswerBody, errAnswerTooLarge)
		return resp, nil
	}
	defer resp.Body.Close()
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), d.now())
	if d.limited != nil {
		d.limited(resp.StatusCode, retryAfter)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{
		Status:     resp.StatusCode,
		RetryAfter: retryAfter,
		Message:    redact(providerMessage(body), d.key),
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		e.Kind = KindAuth
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusGatewayTimeout:
		e.Kind = KindTimeout
	case resp.StatusCode >= 500:
		e.Kind = KindServer
	default:
		e.Kind = KindBadRequest
	}
	return nil, e
}

// transportMessage drops the URL that *url.Error prepends: it is noise in a
// per-document error and may carry credentials in odd configurations.
func transportMessage(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}

// providerMessage extracts the message of an OpenAI-style error body
// {"error":{"message":...}}, also accepting {"error":"..."} and
// {"message":...}; anything else is returned trimmed and shortened.
func providerMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil {
		var inner struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Error, &inner) == nil && inner.Message != "":
			return inner.Message
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			return s
		case v.Message != "":
			return v.Message
		}
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// parseRetryAfter accepts both forms of RFC 9110: delay-seconds and an
// HTTP-date. Unparseable or past values mean "no hint".
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return seconds(secs)
	}
	if t, err := http.ParseTime(v); err == nil {
		return clampHint(t.Sub(now))
	}
	return 0
}

// maxHint bounds a provider's wait hint: beyond a day it is a broken
// header, and the document's own deadline ends the wait long before.
const maxHint = 24 * time.Hour

// seconds turns a header's seconds into a duration: NaN, negative and
// infinite values are no hint or the longest, never a float-to-integer
// overflow (which yields a negative duration).
func seconds(f float64) time.Duration {
	if !(f > 0) {
		return 0
	}
	if f >= maxHint.Seconds() {
		return maxHint
	}
	return time.Duration(f * float64(time.Second))
}

// clampHint keeps a wait between none and maxHint.
func clampHint(d time.Duration) time.Duration { return min(max(d, 0), maxHint) }

// minKeyFragment is the shortest run of key characters redacted: a
// provider may echo the key truncated, minus a character, or wrapped in
// other text, and 8 characters of a random key are already most of a guess.
const minKeyFragment = 8

// redact removes the API key, and every fragment of it of minKeyFragment
// or more characters, from text that came from the network or from a
// library, as some providers echo the key (or part of it) back in their
// messages. Keys shorter than the fragment length are replaced whole. The
// key's base64 and hex forms are removed the same way: a provider echoing
// the Authorization header it got, or a debug dump, shows them, and
// results showed the server's key as b64=... beside its redacted form.
func redact(s, key string) string {
	if len(key) < 4 {
		return s
	}
	b := []byte(key)
	for _, form := range []string{key, base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b), hex.EncodeToString(b)} {
		s = redactRuns(s, form)
	}
	return s
}

// redactRuns is redact for one written form of the key.
func redactRuns(s, key string) string {
	if len(key) < 4 {
		return s
	}
	if len(key) < minKeyFragment {
		return strings.ReplaceAll(s, key, "[redacted]")
	}
	windows := make(map[string]struct{}, len(key)-minKeyFragment+1)
	for i := 0; i+minKeyFragment <= len(key); i++ {
		windows[key[i:i+minKeyFragment]] = struct{}{}
	}
	// A character is secret when some window of the key covers it; the
	// union of the windows found in s is exactly the set of its fragments
	// of the key that are at least minKeyFragment long.
	var cover []bool
	for i := 0; i+minKeyFragment <= len(s); i++ {
		if _, ok := windows[s[i:i+minKeyFragment]]; ok {
			if cover == nil {
				cover = make([]bool, len(s))
			}
			for j := i; j < i+minKeyFragment; j++ {
				cover[j] = true
			}
		}
	}
	if cover == nil {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if !cover[i] {
			b.WriteByte(s[i])
			continue
		}
		if i == 0 || !cover[i-1] {
			b.WriteString("[redacted]")
		}
	}
	return b.String()
}
