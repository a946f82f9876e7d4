package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is one request as the fake provider received it.
type seen struct {
	at         time.Time
	path       string
	auth       string
	model      string
	jsonMode   bool
	userPrompt string // text of the last user message
	messages   int
	done       <-chan struct{} // closed when the client goes away
}

// fakeProvider is an httptest.Server speaking the OpenAI chat completions
// protocol; script decides the answer to the n-th request (0-based).
type fakeProvider struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []seen
	script func(n int, r seen, w http.ResponseWriter)
}

func newFake(t *testing.T, script func(n int, r seen, w http.ResponseWriter)) *fakeProvider {
	t.Helper()
	f := &fakeProvider{script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) handle(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Model          string `json:"model"`
		ResponseFormat *struct {
			Type string `json:"type"`
		} `json:"response_format"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(body, &req)
	s := seen{
		at: at, path: r.URL.Path, auth: r.Header.Get("Authorization"), model: req.Model,
		jsonMode: req.ResponseFormat != nil && req.ResponseFormat.Type == "json_object",
		messages: len(req.Messages), done: r.Context().Done(),
	}
	for _, m := range req.Messages {
		if m.Role == "user" {
			s.userPrompt = messageText(m.Content)
		}
	}
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, s)
	f.mu.Unlock()
	f.script(n, s, w)
}

// messageText accepts both encodings of content: a string or text parts.
func messageText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

func (f *fakeProvider) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

func (f *fakeProvider) baseURL() string { return f.srv.URL + "/v1" }

// answer writes a successful completion with 10+5 tokens.
func answer(w http.ResponseWriter, model, content string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content},
		}},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
	})
}

func fail(w http.ResponseWriter, status int, retryAfter, message string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"error","code":%d}}`, message, status)
}

// always answers every request with the same content.
func always(content string) func(int, seen, http.ResponseWriter) {
	return func(_ int, r seen, w http.ResponseWriter) { answer(w, r.model, content) }
}

const (
	testKey   = "sk-test-0123456789abcdef"
	testModel = "openai/gpt-4o-mini"
	waterText = `Ministry of Jal Shakti. Subject: Guidelines for water quality monitoring under the Jal Jeevan Mission.`
)

// goodTiers has 6 names, 4 subjects and 2 actions: enough for NumTags 6.
const goodTiers = `{"names": ["Jal Jeevan Mission", "Ministry of Jal Shakti", "Gram Panchayat", "WQMIS portal", "NABL", "New Delhi"],
 "subjects": ["water quality", "arsenic contamination", "field testing kits", "laboratory strengthening"],
 "actions": ["office memorandum", "monitoring guidelines"]}`

// testClient returns a client whose waits are short, so that the tests
// exercise the real timing logic in well under a second per retry.
func testClient(base string, mod func(*Config)) *Client {
	cfg := Config{BaseURL: base, DocTimeout: 10 * time.Second, MaxAttempts: 4, MaxBackoff: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c := New(cfg)
	c.baseBackoff = 20 * time.Millisecond
	c.paceFloor = 50 * time.Millisecond
	return c
}

func baseRequest() Request {
	return Request{Model: testModel, APIKey: testKey, Text: waterText, Title: "Water quality circular", NumTags: 6}
}

// noSleep is a Sleep hook for tests that only count attempts.
func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// Canned answers of the language-aware fake for the Hindi circular.
const (
	hindiTiersEnglish = `{"names": ["Ministry of Education", "PM POSHAN scheme", "Government of India"],
 "subjects": ["mid-day meal quality", "school nutrition", "food safety inspection"],
 "actions": ["office memorandum", "monitoring guidelines"]}`
	hindiTiersHindi = `{"names": ["शिक्षा मंत्रालय", "प्रधानमंत्री पोषण शक्ति निर्माण योजना", "भारत सरकार"],
 "subjects": ["मध्याह्न भोजन", "भोजन की गुणवत्ता", "विद्यालय निरीक्षण"],
 "actions": ["कार्यालय ज्ञापन", "गुणवत्ता निगरानी"]}`
)

// languageAware behaves like a real model on language: it answers in the
// language of the document text in the prompt (Devanagari or not) unless
// the instructions before the text ask for English tags.
func languageAware(english string) func(int, seen, http.ResponseWriter) {
	return func(_ int, r seen, w http.ResponseWriter) {
		instr, doc, _ := strings.Cut(r.userPrompt, "Document text:")
		askedEnglish := strings.Contains(instr, "in English")
		switch {
		case hasDevanagari(doc) && !askedEnglish:
			answer(w, r.model, hindiTiersHindi)
		case hasDevanagari(doc):
			answer(w, r.model, hindiTiersEnglish)
		default:
			answer(w, r.model, english)
		}
	}
}

func hasDevanagari(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= 0x0900 && r <= 0x097F })
}
