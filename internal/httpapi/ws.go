package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
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
// and failures close with 1008 (policy violation); a user over the stream
// cap gets 1013 (try again later).
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
	since, noRows, err := streamParams(c)
	if err != nil {
		_ = conn.Close(websocket.StatusPolicyViolation, apperr.Message(err))
		return
	}
	user := claims(c).UserID
	if !s.streams.acquire(user) {
		_ = conn.Close(websocket.StatusTryAgainLater, fmt.Sprintf("too many streams: at most %d per user", s.streams.max))
		return
	}
	defer s.streams.release(user)
	ctx := conn.CloseRead(c.Request.Context()) // read-only: client messages end the stream
	w := s.watchJob(job)
	w.access = accessView(caller(c), job)
	defer w.untap()
	w.since, w.noRows = since, noRows
	tick, stop := pinger(ctx)
	defer stop()
	perWrite := s.timeouts.Write
	if perWrite <= 0 {
		perWrite = 10 * time.Second
	}
	catchup := func(write func(io.Writer) error) error {
		// A large job's catchup is many frames: give it several write periods.
		wctx, cancel := context.WithTimeout(ctx, 5*perWrite)
		defer cancel()
		mw, err := conn.Writer(wctx, websocket.MessageText)
		if err != nil {
			return err
		}
		if err := write(mw); err != nil {
			_ = mw.Close()
			return err
		}
		return mw.Close()
	}
	send := func(msg []byte) error {
		wctx, cancel := context.WithTimeout(ctx, perWrite)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, msg)
	}
	ping := func() error {
		pctx, cancel := context.WithTimeout(ctx, perWrite)
		defer cancel()
		return conn.Ping(pctx)
	}
	slow, err := w.follow(ctx, catchup, send, tick, ping)
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
	user := claims(c).UserID
	if !s.streams.acquire(user) {
		c.Header("Retry-After", "10")
		fail(c, apperr.New(apperr.RateLimited, "too many streams: at most %d per user; close one first", s.streams.max))
		return
	}
	defer s.streams.release(user)
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	w := s.watchJob(job)
	w.access = accessView(caller(c), job)
	defer w.untap()
	// Every frame's id is its event's sequence (the catchup's is the
	// sequence it reflects); EventSource sends the last one back on
	// reconnect, and the catchup then carries only what changed since.
	if last, err := strconv.ParseUint(c.GetHeader("Last-Event-ID"), 10, 64); err == nil {
		w.since = last
	}
	// The answer lasts as long as the job: no whole-answer deadline, one
	// per write instead.
	streaming(c.Writer)
	c.Header("Content-Type", "text/event-stream")
	c.Header("Cache-Control", "no-store")
	c.Header("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	out := &deadlineWriter{w: c.Writer, s: s}
	flush := func() error {
		s.writeDeadline(c.Writer)
		return http.NewResponseController(c.Writer).Flush()
	}
	write := func(line string) error {
		if _, err := io.WriteString(out, line); err != nil {
			return err
		}
		return flush()
	}
	catchup := func(body func(io.Writer) error) error {
		if _, err := fmt.Fprintf(out, "id: %d\ndata: ", w.sent); err != nil {
			return err
		}
		if err := body(out); err != nil {
			return err
		}
		return write("\n\n")
	}
	tick, stop := pinger(ctx)
	defer stop()
	slow, _ := w.follow(ctx, catchup, func(msg []byte) error {
		return write("id: " + strconv.FormatUint(w.sent, 10) + "\ndata: " + string(msg) + "\n\n")
	},
		tick, func() error { return write(": keep-alive\n\n") })
	if slow {
		_ = write("event: error\ndata: {\"detail\":\"client too slow; reconnect to catch up\"}\n\n")
	}
}

// deadlineWriter bounds every write of a streaming answer.
type deadlineWriter struct {
	w http.ResponseWriter
	s *Server
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.s.writeDeadline(d.w)
	return d.w.Write(p)
}

// streamParams reads a WebSocket's ?since=SEQ (its Last-Event-ID: a
// console reconnecting after a drop gets only what changed after the last
// event it saw) and ?results=none (a catchup without rows). A value that
// is neither is refused, not read as absent: since=abc meant a whole
// catchup to a client that believed it had resumed.
func streamParams(c *gin.Context) (since uint64, noRows bool, err error) {
	if v := c.Query("since"); v != "" {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, false, apperr.Field("since", "must be the sequence of the last event seen (a whole number)")
		}
	}
	switch v := c.Query("results"); v {
	case "", "none":
		noRows = v == "none"
	default:
		return 0, false, apperr.Field("results", "must be none (a catchup without rows) or left out")
	}
	return since, noRows, nil
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
	s.setClaims(c, cl)
	job, err := s.visibleJob(c)
	if errors.Is(err, context.Canceled) {
		return projections.Job{}, err
	}
	return job, err
}
