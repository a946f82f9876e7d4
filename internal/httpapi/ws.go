package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
)

// pingEvery keeps idle connections alive through proxies that cut silent ones.
const pingEvery = 20 * time.Second

// wsJob streams a job over a WebSocket. Browsers cannot read the HTTP
// status of a failed upgrade, so authentication happens after the upgrade
// and failures close with 1008 (policy violation).
func (s *Server) wsJob(c *gin.Context) {
	conn, err := websocket.Accept(c.Writer, c.Request, nil)
	if err != nil {
		return // Accept has answered the client already
	}
	defer conn.CloseNow()
	job, err := s.observerJob(c)
	if err != nil {
		_ = conn.Close(websocket.StatusPolicyViolation, apperr.Message(err))
		return
	}
	ctx := conn.CloseRead(c.Request.Context()) // read-only: client messages end the stream
	w := s.watchJob(job)
	defer w.untap()
	ticker := time.NewTicker(pingEvery)
	defer ticker.Stop()
	tick := make(chan struct{})
	go func() {
		for {
			select {
			case <-ticker.C:
				select {
				case tick <- struct{}{}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	send := func(msg []byte) error {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, msg)
	}
	ping := func() error {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return conn.Ping(pctx)
	}
	slow, err := w.follow(ctx, send, tick, ping)
	switch {
	case slow:
		_ = conn.Close(websocket.StatusTryAgainLater, "client too slow; reconnect to catch up")
	case err == nil:
		_ = conn.Close(websocket.StatusNormalClosure, "job finished")
	}
}

// sseJob is the same stream as Server-Sent Events, for clients that cannot
// use WebSockets.
func (s *Server) sseJob(c *gin.Context) {
	job, err := s.observerJob(c)
	if err != nil {
		fail(c, err)
		return
	}
	w := s.watchJob(job)
	defer w.untap()
	c.Header("Content-Type", "text/event-stream")
	c.Header("Cache-Control", "no-store")
	c.Header("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	flusher, _ := c.Writer.(http.Flusher)
	write := func(line string) error {
		if _, err := fmt.Fprint(c.Writer, line); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	ticker := time.NewTicker(pingEvery)
	defer ticker.Stop()
	tick := make(chan struct{})
	go func() {
		for range ticker.C {
			select {
			case tick <- struct{}{}:
			case <-c.Request.Context().Done():
				return
			}
		}
	}()
	slow, _ := w.follow(c.Request.Context(), func(msg []byte) error { return write("data: " + string(msg) + "\n\n") },
		tick, func() error { return write(": keep-alive\n\n") })
	if slow {
		_ = write("event: error\ndata: {\"detail\":\"client too slow; reconnect to catch up\"}\n\n")
	}
}

// observerJob authenticates an observer (header or ?token=) and returns the
// job if the caller may see it.
func (s *Server) observerJob(c *gin.Context) (projections.Job, error) {
	token := bearer(c.GetHeader("Authorization"))
	if token == "" {
		token = c.Query("token")
	}
	if token == "" {
		return projections.Job{}, apperr.New(apperr.Unauthorized, "missing token")
	}
	cl, err := s.d.Auth.Verify(c.Request.Context(), token)
	if err != nil {
		return projections.Job{}, err
	}
	c.Set(claimsKey, cl)
	job, err := s.visibleJob(c)
	if errors.Is(err, context.Canceled) {
		return projections.Job{}, err
	}
	return job, err
}
