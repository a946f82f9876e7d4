package llmfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Answer writes a successful chat completion of content for r, with r's
// model and usage.
func Answer(w http.ResponseWriter, r Request, content string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", r.N+1), "object": "chat.completion", "created": r.At.Unix(), "model": r.Model,
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content},
		}},
		"usage": map[string]any{"prompt_tokens": r.Usage.Prompt, "completion_tokens": r.Usage.Completion, "total_tokens": r.Usage.Total()},
	})
}

// Scripted 429s describe a requests bucket of this size that is empty
// and full again after Retry-After, and a tokens bucket with room: the
// shape of OpenAI's answer when the requests per minute run out.
const (
	scriptedRequestLimit = 10000
	scriptedTokenLimit   = 2000000
)

// Fail writes an OpenAI-style error. A 429 with a Retry-After (seconds)
// also carries x-ratelimit-* headers as OpenAI sends them; a 429 without
// one is bare, as overloaded providers and some routers send it.
func Fail(w http.ResponseWriter, status int, retryAfter, message string) {
	h := w.Header()
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
		if secs, err := strconv.ParseFloat(retryAfter, 64); err == nil && status == http.StatusTooManyRequests {
			reset := time.Duration(secs * float64(time.Second)).Round(time.Millisecond)
			setBucket(h, "requests", scriptedRequestLimit, 0, reset)
			setBucket(h, "tokens", scriptedTokenLimit, scriptedTokenLimit-1000, 30*time.Millisecond)
		}
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"error","code":%d}}`, message, status)
}

// setBucket writes one dimension of the x-ratelimit-* headers; reset is
// the time until the bucket is full again, in Go's duration format as
// OpenAI writes it ("6m0s", "20ms").
func setBucket(h http.Header, dim string, limit, remaining float64, reset time.Duration) {
	h.Set("X-Ratelimit-Limit-"+dim, strconv.FormatFloat(limit, 'f', 0, 64))
	h.Set("X-Ratelimit-Remaining-"+dim, strconv.FormatFloat(max(remaining, 0), 'f', 0, 64))
	h.Set("X-Ratelimit-Reset-"+dim, reset.String())
}
