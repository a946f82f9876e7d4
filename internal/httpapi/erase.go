package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services"
)

// Governor erases jobs and sets legal holds (services.GovernanceHandler).
type Governor interface {
	Erase(ctx context.Context, c services.Caller, jobID, reason string) error
	SetLegalHold(ctx context.Context, c services.Caller, jobID string, on bool, reason string) (services.LegalHoldResult, error)
}

type eraseRequest struct {
	Reason string `json:"reason"`
}

type legalHoldRequest struct {
	On     *bool  `json:"on"`
	Reason string `json:"reason"`
}

// erase crypto-shreds a job's document data; the answer comes once the
// read models have scrubbed it, so the caller's next read shows it gone.
func (s *Server) erase(c *gin.Context) {
	if s.d.Governance == nil {
		fail(c, apperr.New(apperr.Unavailable, "erasure is not configured on this server"))
		return
	}
	var req eraseRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	id := c.Param("job_id")
	if err := s.d.Governance.Erase(c.Request.Context(), caller(c), id, req.Reason); err != nil {
		fail(c, err)
		return
	}
	s.syncReads(c.Request.Context(), "an erasure")
	c.JSON(http.StatusOK, gin.H{"message": fmt.Sprintf("Job %s: document data erased", id), "job_id": id, "erased": true})
}

func (s *Server) legalHold(c *gin.Context) {
	if s.d.Governance == nil {
		fail(c, apperr.New(apperr.Unavailable, "erasure is not configured on this server"))
		return
	}
	var req legalHoldRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	if req.On == nil {
		fail(c, apperr.Field("on", "is required (true sets the hold, false lifts it)"))
		return
	}
	res, err := s.d.Governance.SetLegalHold(c.Request.Context(), caller(c), c.Param("job_id"), *req.On, req.Reason)
	if err != nil {
		fail(c, err)
		return
	}
	s.waitFor(c.Request.Context(), res.Seq)
	c.JSON(http.StatusOK, res)
}

// syncReads waits (briefly) for the read models to reach the log's end;
// a slow one only delays the answer, for which it logs.
func (s *Server) syncReads(ctx context.Context, answer string) {
	if s.d.Freshness == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.d.Freshness.Sync(ctx); err != nil {
		s.d.Log.Warn("read models lag behind the log", "for", answer, "err", err)
	}
}
