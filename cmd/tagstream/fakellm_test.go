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
		Model string `json:"model"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	select {
	case <-time.After(f.latency):
	case <-r.Context().Done():
		return
	}
	content := `{"names":["jal jeevan mission","ministry of jal shakti","national water mission","state water board"],` +
		`"subjects":["drinking water quality","water testing laboratories","rural water supply"],` +
		`"actions":["office memorandum","quality monitoring guidelines","circular"]}`
	body, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content}}},
		"usage": map[string]any{"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
