// Package client is a small typed HTTP client for the Tagstream API. It is
// what the `tagstream` command line uses; it keeps the caller's tokens,
// refreshes them once when the server answers 401, and turns the API's
// {"detail","code"} error bodies into *Error values.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Error is an error answer from the API. Detail is the server's human
// message, Code its machine code; Status is the HTTP status.
type Error struct {
	Status int
	Code   string
	Detail string
	Field  string
}

// Error returns the server's detail, which is written for humans, or the
// HTTP status text when the body was not an API error (a proxy page, say).
func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return fmt.Sprintf("server answered HTTP %d %s", e.Status, http.StatusText(e.Status))
}

// StatusOf returns the HTTP status of an API error, or 0 for any other error.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Tokens is the credential pair issued at login and rotated by refresh.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type,omitempty"`
	ExpiresIn    int    `json:"expires_in,omitempty"`
}

// Client talks to one Tagstream server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	http      *http.Client
	userAgent string

	mu     sync.Mutex
	tokens Tokens
	// onTokens persists a rotated pair; the old refresh token stops working
	// on the server the moment it is used, so losing the new one would log
	// the user out.
	onTokens func(Tokens) error
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the default HTTP client.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTokens sets the tokens to send and a function that stores them again
// after a refresh rotated them (save may be nil).
func WithTokens(t Tokens, save func(Tokens) error) Option {
	return func(c *Client) { c.tokens, c.onTokens = t, save }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client for the server at base (http or https URL).
func New(base string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q is not an http(s) URL", base)
	}
	// No overall timeout: a 10,000-document start or a large CSV export may
	// take a while; callers bound calls with their context instead.
	c := &Client{base: u, http: &http.Client{}, userAgent: "tagstream-cli"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL is the server URL without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// Tokens returns the current tokens (they change after a refresh).
func (c *Client) Tokens() Tokens {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	body         any  // marshalled as JSON when not nil
	auth         bool // send the access token (and refresh on 401)
}

// do sends r and returns the raw body of a 2xx answer. With auth, a 401 is
// answered by one refresh and one retry: access tokens are short-lived, and
// the user should not have to log in again while the refresh token is good.
func (c *Client) do(ctx context.Context, r request) ([]byte, http.Header, error) {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return nil, nil, fmt.Errorf("encode request: %w", err)
		}
	}
	for attempt := 0; ; attempt++ {
		sent := ""
		if r.auth {
			sent = c.Tokens().AccessToken
		}
		raw, hdr, err := c.send(ctx, r, payload, sent)
		if r.auth && attempt == 0 && StatusOf(err) == http.StatusUnauthorized && c.Tokens().RefreshToken != "" {
			if rerr := c.refreshAfter(ctx, sent); rerr != nil {
				return nil, nil, rerr
			}
			continue
		}
		return raw, hdr, err
	}
}

func (c *Client) send(ctx context.Context, r request, payload []byte, token string) ([]byte, http.Header, error) {
	u := *c.base
	u.Path += r.path
	u.RawQuery = r.query.Encode()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, nil, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, connError(c.base.String(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read answer from %s: %w", c.base, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, apiError(resp.StatusCode, raw)
	}
	// Trailers (a streamed export's continuation cursor) arrive with the
	// end of the body: hand them on with the headers.
	for k, v := range resp.Trailer {
		resp.Header[k] = v
	}
	return raw, resp.Header, nil
}

// connError says which server could not be reached, without Go's
// "Post \"http://...\": dial tcp ..." noise.
func connError(server string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var sys *os.SyscallError // "connect: connection refused" -> "connection refused"
	if errors.As(err, &sys) {
		return fmt.Errorf("cannot reach %s: %v", server, sys.Err)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Errorf("cannot reach %s: %v", server, op.Err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("cannot reach %s: %v", server, ue.Err)
	}
	return fmt.Errorf("cannot reach %s: %v", server, err)
}

func apiError(status int, raw []byte) error {
	e := &Error{Status: status}
	var body struct {
		Detail any    `json:"detail"`
		Code   string `json:"code"`
		Field  string `json:"field"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.Code, e.Field = body.Code, body.Field
		switch d := body.Detail.(type) {
		case string:
			e.Detail = d
		case nil:
		default: // some frameworks send a list of problems; keep it readable
			b, _ := json.Marshal(d)
			e.Detail = string(b)
		}
	}
	e.Detail = strings.Join(strings.Fields(e.Detail), " ")
	return e
}

// refreshAfter rotates the tokens unless another goroutine already did so
// since `sent` was used: refresh tokens are single-use, so two refreshes
// racing with the same token would make the server revoke the session.
func (c *Client) refreshAfter(ctx context.Context, sent string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens.AccessToken != sent {
		return nil
	}
	payload := mustJSON(map[string]string{"refresh_token": c.tokens.RefreshToken})
	raw, _, err := c.send(ctx, request{method: http.MethodPost, path: "/api/auth/refresh"}, payload, "")
	if err != nil {
		if StatusOf(err) == http.StatusUnauthorized {
			return &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
				Detail: "session expired; log in again with `tagstream login`"}
		}
		return err
	}
	var t Tokens
	if err := json.Unmarshal(raw, &t); err != nil || t.AccessToken == "" {
		return fmt.Errorf("refresh: unexpected answer from %s", c.base)
	}
	c.tokens = t
	if c.onTokens != nil {
		if err := c.onTokens(t); err != nil {
			return fmt.Errorf("store refreshed tokens: %w", err)
		}
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// call sends r and decodes a JSON answer into out, returning the raw bytes
// too so that callers can print exactly what the server said (--json).
func (c *Client) call(ctx context.Context, r request, out any) (json.RawMessage, error) {
	raw, _, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%s %s: unexpected answer: %v", r.method, r.path, err)
		}
	}
	return raw, nil
}

// pollEvery is how often Follow polls when it cannot use the WebSocket.
const pollEvery = time.Second
