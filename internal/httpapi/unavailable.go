package httpapi

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
)

// natsRequestTimeout bounds a request that talks to NATS. While NATS is
// down the client buffers requests until their context ends, so without a
// deadline a command would hang; 10 s is 40x a 10,000-document start.
var natsRequestTimeout = 10 * time.Second // a var so tests can shorten it

// healthyKey carries Deps.Healthy to fail(), which has no Server at hand.
const healthyKey = "tagstream.nats_healthy"

// offlineRoutes need no NATS at all. Read-model routes are not listed:
// they answer from memory, but only for jobs the model already knows.
var offlineRoutes = map[string]bool{
	"/api/health": true, "/api/ready": true, "/api/status": true, "/api/openapi.json": true,
	"/metrics": true, "/.well-known/jwks.json": true, "/api/batch/template": true,
	"/api/batch/validate-paths": true, // fetches documents, not NATS
	// long-lived streams: their own loops notice an outage
	"/api/batch/ws/:job_id": true, "/api/batch/jobs/:job_id/stream": true,
}

// memoryRoutes are answered from the read models; during an outage they
// still work (slightly stale) as long as they need no catch-up with the log.
// Search and history statistics read only the read database: finding a
// tagged document does not wait for NATS to come back.
var memoryRoutes = map[string]bool{
	"/api/batch/active": true, "/api/batch/jobs": true, "/api/analytics/summary": true,
	"/api/batch/jobs/:job_id/status": true, "/api/batch/jobs/:job_id/results": true,
	"/api/documents": true, "/api/history/stats": true,
}

// guardNATS answers 503 at once for requests that need NATS while it is
// down, and gives the others a deadline so an outage that begins mid-request
// still ends in a 503 rather than a hang.
func (s *Server) guardNATS(c *gin.Context) {
	route := c.FullPath()
	if route == "" || offlineRoutes[route] {
		c.Next() // unknown route (web console, 404) or no NATS needed
		return
	}
	c.Set(healthyKey, s.d.Healthy)
	down := s.d.Healthy != nil && !s.d.Healthy()
	if down && !memoryRoutes[route] {
		fail(c, errUnavailable())
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), natsRequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// catchUpWait bounds how long a lookup waits for the read models to reach
// the log's end: as long as a command waits for its own write (waitFor).
var catchUpWait = 5 * time.Second // a var so tests can shorten it

// catchUp brings the read models up to the log before a lookup may say
// "not found": a job unknown to them may just be newer (written by another
// API process). If the log cannot be reached, or the read models do not
// reach its end in time, that is a 503 saying which, not a false 404.
func (s *Server) catchUp(ctx context.Context) error {
	if s.d.Healthy != nil && !s.d.Healthy() {
		return errUnavailable()
	}
	ctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	err := s.d.Freshness.Sync(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, events.ErrUnavailable):
		return errUnavailable() // the log's end could not be read
	case errors.Is(err, context.DeadlineExceeded) && (s.d.Healthy == nil || s.d.Healthy()):
		return retrySoon("the read models are still catching up with the event log; retry shortly", err)
	case isUnavailable(err):
		return errUnavailable()
	}
	// A failed model (ErrModelFailed) fails alone: the others, at the
	// log's end, answer the lookup.
	return nil
}

// errRetrySoon marks the 503s that pass on their own (an outage, a
// catch-up, a failover), which answer with Retry-After; those that last
// (a feature this server lacks) do not.
var errRetrySoon = errors.New("retry soon")

func retrySoon(msg string, cause error) error {
	return &apperr.Error{Code: apperr.Unavailable, Message: msg, Err: errors.Join(errRetrySoon, cause)}
}

func errUnavailable() error {
	return retrySoon(natsUnreachable, nil)
}

const natsUnreachable = "the event store (NATS) is unreachable; retry shortly"

func errReadDB(cause error) error {
	return retrySoon("the read database cannot answer now; retry shortly", cause)
}

// asUnavailable turns an internal error into 503 "unavailable" when it was
// caused by NATS being unreachable, or NATS is down right now.
func asUnavailable(c *gin.Context, err error) error {
	if apperr.Code(err) != apperr.Internal {
		return err
	}
	if isUnavailable(err) {
		return retrySoon(natsUnreachable, err)
	}
	if errors.Is(err, projections.ErrReadDB) || errors.Is(err, projections.ErrModelFailed) {
		return errReadDB(err)
	}
	if v, ok := c.Get(healthyKey); ok {
		if healthy, _ := v.(func() bool); healthy != nil && !healthy() {
			return retrySoon(natsUnreachable, err)
		}
	}
	return err
}

// isUnavailable reports errors that mean "the event store cannot answer
// now" rather than "this request is wrong": the store marks them
// events.ErrUnavailable, and a request that ran out of time waiting for it
// ends with its deadline.
func isUnavailable(err error) bool {
	return errors.Is(err, events.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
