package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
)

// Timeouts bound how long one request may hold a connection.
//
// The http.Server's own ReadTimeout and WriteTimeout are left at zero on
// purpose: they cover the whole exchange, so a WriteTimeout would cut every
// WebSocket and SSE observer, and an expired ReadTimeout makes net/http's
// background read cancel the request context of a handler that is still
// working (a 30 s validation, a large export). Instead each request gets a
// read deadline for its body only (cleared once the body has been read) and
// a write deadline for its answer; the streaming handlers clear the write
// deadline and set one per message instead. (A hijacked WebSocket has its
// deadlines cleared by net/http and bounds each write by context.)
type Timeouts struct {
	Body  time.Duration // whole request body (a body trickled byte by byte is cut)
	Write time.Duration // whole answer of an ordinary request; per chunk for streams
}

// DefaultTimeouts fit a 32 MiB start over a slow link and a large page of
// results, and are far below what a trickling client needs to hold a
// connection for hours.
var DefaultTimeouts = Timeouts{Body: 60 * time.Second, Write: 60 * time.Second}

// Header and idle timeouts live on the http.Server (see NewHTTPServer).
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 120 * time.Second
)

// NewHTTPServer returns the http.Server Tagstream serves with: header and
// idle timeouts here, body and write deadlines per request (Timeouts).
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout,
		MaxHeaderBytes: 64 << 10}
}

// errBodyTimeout is a request body that did not arrive in time: 408.
var errBodyTimeout = errors.New("request body not received in time")

// deadlines sets the per-request read (body) and write deadlines.
func (s *Server) deadlines(c *gin.Context) {
	rc := http.NewResponseController(c.Writer)
	now := time.Now()
	if s.timeouts.Write > 0 {
		_ = rc.SetWriteDeadline(now.Add(s.timeouts.Write))
	}
	if s.timeouts.Body > 0 && c.Request.Body != nil && c.Request.Body != http.NoBody {
		if rc.SetReadDeadline(now.Add(s.timeouts.Body)) == nil {
			c.Request.Body = &deadlineBody{ReadCloser: c.Request.Body}
		}
	}
	c.Next()
}

// deadlineBody turns the expired body deadline into errBodyTimeout (a
// 408, not a 400 "malformed JSON"). The deadline needs no clearing: once
// the body has been read to its end, net/http clears it before its
// background read (which watches for a client that leaves), so a handler
// working past it keeps its context (TestBodyDeadlineDoesNotCutAWorkingHandler).
type deadlineBody struct {
	io.ReadCloser
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, errBodyTimeout
	}
	return n, err
}

// streaming clears the whole-answer write deadline for a long-lived
// response; the handler then bounds each write with writeDeadline.
func streaming(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
}

// writeDeadline bounds the next write of a streaming response, so a
// client that stops reading cannot hold the handler for ever.
func (s *Server) writeDeadline(w http.ResponseWriter) {
	if s.timeouts.Write > 0 {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.timeouts.Write))
	}
}

// abortStream ends a streamed answer that has begun and cannot be
// finished (the read model failed between pages): the connection is cut
// without the last chunk, so the client sees a failed transfer (curl
// exits 18, Go reads io.ErrUnexpectedEOF) instead of a short export that
// looks complete. net/http does not log http.ErrAbortHandler; this does.
func (s *Server) abortStream(what string, err error) {
	s.d.Log.Warn(what+" stopped before its end; the connection is cut", "err", err)
	panic(http.ErrAbortHandler)
}
