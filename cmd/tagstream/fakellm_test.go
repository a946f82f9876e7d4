package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLLM speaks the OpenAI /v1/chat/completions protocol, the only thing
// outside the machine that tests replace.
type fakeLLM struct {
	srv      *httptest.Server
	latency  time.Duration
	wantKey  string
	calls    atomic.Int64
	badKey   atomic.Int64
	mu       sync.Mutex
	status   func(n int64) (int, string) // optional: status and Retry-After for call n
	authSeen map[string]int
}

func newFakeLLM(t *testing.T, latency time.Duration, wantKey string) *fakeLLM {
	f := &fakeLLM{latency: latency, wantKey: wantKey, authSeen: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLLM) baseURL() string { return f.srv.URL + "/v1" }

func (f *fakeLLM) serve(w http.ResponseWriter, r *http.Request) {
	n := f.calls.Add(1)
	if r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	f.authSeen[auth]++
	f.mu.Unlock()
	if f.wantKey != "" && auth != f.wantKey {
		f.badKey.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"message":"Incorrect API key provided"}}`)
		return
	}
	if f.status != nil {
		if code, retry := f.status(n); code != 0 {
			if retry != "" {
				w.Header().Set("Retry-After", retry)
			}
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"error":{"message":"scripted %d"}}`, code)
			return
		}
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	prompt := ""
	for _, m := range req.Messages {
		if m.Role == "user" && prompt == "" {
			prompt = contentText(m.Content)
		}
	}
	select {
	case <-time.After(f.latency):
	case <-r.Context().Done():
		return
	}
	content := `{"names":["jal jeevan mission","ministry of jal shakti","national water mission","state water board"],` +
		`"subjects":["drinking water quality","water testing laboratories","rural water supply"],` +
		`"actions":["office memorandum","quality monitoring guidelines","circular"]}`
	// Like a real model, answer in the document's language unless the
	// instructions (before the document text) ask for English.
	instr, doc, _ := strings.Cut(prompt, "Document text:")
	if strings.ContainsFunc(doc, func(r rune) bool { return r >= 0x0900 && r <= 0x097F }) && !strings.Contains(instr, "in English") {
		content = `{"names":["जल जीवन मिशन","शिक्षा मंत्रालय","भारत सरकार","राज्य जल बोर्ड"],` +
			`"subjects":["पेयजल गुणवत्ता","मध्याह्न भोजन","ग्रामीण जल आपूर्ति"],` +
			`"actions":["कार्यालय ज्ञापन","गुणवत्ता निगरानी","परिपत्र"]}`
	}
	body, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content}}},
		"usage": map[string]any{"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// contentText accepts both encodings of a message's content: a string or
// a list of text parts.
func contentText(raw json.RawMessage) string {
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
