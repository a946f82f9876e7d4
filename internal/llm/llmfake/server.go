// Package llmfake is a fake OpenAI-compatible model provider for tests: an
// httptest server speaking POST /v1/chat/completions the way real
// providers do. It is the one thing outside the machine that Tagstream's
// tests replace, so it behaves like the real thing: it answers in the
// document's language unless asked for English, wraps its JSON in prose or
// a ```json fence now and then, reports token usage, refuses a wrong key
// with 401, and answers 429 with Retry-After and x-ratelimit-* headers,
// optionally enforcing per-key request, token and concurrency limits.
//
// It is an ordinary package only so that the tests of several packages
// can share it; only _test.go files import it.
package llmfake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TB is the part of testing.TB the fake needs (tests and benchmarks).
type TB interface {
	Helper()
	Cleanup(func())
}

// Usage is the token count a completion reports.
type Usage struct{ Prompt, Completion int }

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.Prompt + u.Completion }

// DefaultUsage is what a completion reports unless Options.Usage is set.
var DefaultUsage = Usage{Prompt: 120, Completion: 40}

// Options configure a Server; the zero value is a language-aware model
// that accepts any key and answers at once.
type Options struct {
	Key     string        // the one bearer key accepted ("" accepts any); others get 401
	Latency time.Duration // time to answer a successful call
	Usage   Usage         // tokens each completion reports; zero means DefaultUsage
	// WrapEvery wraps every n-th answer the fake writes itself in prose
	// or a ```json fence, as models do despite being asked for bare JSON:
	// 0 means every third, a negative value never.
	WrapEvery int
	// Limits, when set, are enforced per key as providers do (limits.go).
	Limits *Limits
	// Status, when set, may refuse call r.N with a status and Retry-After
	// (seconds, "" for none) before any answer; 0 lets the call through.
	Status func(r Request) (code int, retryAfter string)
	// Script, when set, answers every call that gets past the key, limit
	// and Status checks itself (with Answer, Fail or anything else),
	// instead of the language-aware answer after Latency.
	Script func(n int, r Request, w http.ResponseWriter)
	// DropRequests keeps no record of requests (long benchmarks).
	DropRequests bool
}

// Request is one request as the fake received it.
type Request struct {
	N          int // 0-based call number
	At         time.Time
	Path       string
	Auth       string // the Authorization header as sent
	Model      string
	JSONMode   bool   // response_format json_object asked for
	UserPrompt string // text of the last user message
	DocPrompt  string // text of the first user message (the one with the document)
	Messages   int
	InFlight   int             // requests in flight at the fake as this one arrived, itself included
	Done       <-chan struct{} // closed when the client goes away
	Usage      Usage           // what Answer reports for this call
}

// Server is a running fake provider.
type Server struct {
	srv  *httptest.Server
	opts Options

	calls, badKeys, answers atomic.Int64

	mu   sync.Mutex
	reqs []Request
	lim  limitState
	conc concurrency
}

// New starts a fake provider, closed when the test ends.
func New(tb TB, opts Options) *Server {
	tb.Helper()
	if opts.Usage == (Usage{}) {
		opts.Usage = DefaultUsage
	}
	if opts.WrapEvery == 0 {
		opts.WrapEvery = 3
	}
	s := &Server{opts: opts, lim: limitState{keys: map[string]*keyState{}}}
	s.srv = httptest.NewServer(s)
	tb.Cleanup(s.srv.Close)
	return s
}

// BaseURL is the API base to configure clients with ({URL}/v1).
func (s *Server) BaseURL() string { return s.srv.URL + "/v1" }

// Addr is the host:port the fake listens on.
func (s *Server) Addr() string { return s.srv.Listener.Addr().String() }

// Close stops the fake and drops every connection: refused from now on.
func (s *Server) Close() { s.srv.Close() }

// Calls is the number of requests received, on any path.
func (s *Server) Calls() int64 { return s.calls.Load() }

// BadKeys is the number of requests refused for a wrong key.
func (s *Server) BadKeys() int64 { return s.badKeys.Load() }

// Requests returns the requests received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// ServeHTTP answers one request; tests that put their own handler in
// front of the fake delegate to it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := s.record(r)
	defer s.moveInFlight(-1)
	if req.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	if s.opts.Key != "" && strings.TrimPrefix(req.Auth, "Bearer ") != s.opts.Key {
		s.badKeys.Add(1)
		Fail(w, http.StatusUnauthorized, "", "Incorrect API key provided")
		return
	}
	release, refused := s.admit(w, req)
	if refused {
		return
	}
	defer release()
	if s.opts.Status != nil {
		if code, retry := s.opts.Status(req); code != 0 {
			Fail(w, code, retry, "scripted "+http.StatusText(code))
			return
		}
	}
	if s.opts.Script != nil {
		s.opts.Script(req.N, req, w)
		return
	}
	select {
	case <-time.After(s.opts.Latency):
	case <-r.Context().Done():
		return
	}
	content := languageAware(req.DocPrompt)
	if n := s.answers.Add(1); s.opts.WrapEvery > 0 && n%int64(s.opts.WrapEvery) == 0 {
		content = wrap(content, n/int64(s.opts.WrapEvery))
	}
	s.answered(req)
	Answer(w, req, content)
}

// record parses and keeps one request.
func (s *Server) record(r *http.Request) Request {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)
	var in struct {
		Model          string `json:"model"`
		ResponseFormat *struct {
			Type string `json:"type"`
		} `json:"response_format"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(body, &in)
	req := Request{
		At: at, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Model: in.Model,
		JSONMode: in.ResponseFormat != nil && in.ResponseFormat.Type == "json_object",
		Messages: len(in.Messages), Done: r.Context().Done(), Usage: s.opts.Usage,
	}
	for _, m := range in.Messages {
		if m.Role != "user" {
			continue
		}
		req.UserPrompt = messageText(m.Content)
		if req.DocPrompt == "" {
			req.DocPrompt = req.UserPrompt
		}
	}
	// Numbered under the lock, so that Requests()[i].N == i.
	s.mu.Lock()
	defer s.mu.Unlock()
	req.N = int(s.calls.Add(1) - 1)
	s.moveInFlightLocked(1)
	req.InFlight = s.conc.inflight
	if !s.opts.DropRequests {
		s.reqs = append(s.reqs, req)
	}
	return req
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
