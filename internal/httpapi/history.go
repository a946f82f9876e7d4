package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// Retrier re-runs failed documents.
type Retrier interface {
	Handle(ctx context.Context, cmd services.RetryJob) (services.RetryResult, error)
}

type retryRequest struct {
	APIKey           string `json:"api_key"`
	ModelName        string `json:"model_name"`
	Reason           string `json:"reason"`
	IncludeCancelled bool   `json:"include_cancelled"`
}

func (s *Server) retry(c *gin.Context) {
	var req retryRequest
	if err := decode(c, &req, true); err != nil {
		fail(c, err)
		return
	}
	res, err := s.d.Retry.Handle(c.Request.Context(), services.RetryJob{JobID: c.Param("job_id"), Caller: caller(c),
		APIKey: req.APIKey, Model: req.ModelName, Reason: req.Reason, IncludeCancelled: req.IncludeCancelled})
	if err != nil {
		fail(c, err)
		return
	}
	s.waitFor(c.Request.Context(), res.Seq)
	c.JSON(http.StatusOK, gin.H{"message": fmt.Sprintf("Retrying %d documents as attempt %d", len(res.Rows), res.Attempt),
		"job_id": res.JobID, "status": events.StatusPending, "attempt": res.Attempt, "documents": len(res.Rows)})
}

var validStatus = map[string]bool{events.StatusPending: true, events.StatusProcessing: true, events.StatusPaused: true,
	events.StatusCompleted: true, events.StatusFailed: true, events.StatusCancelled: true}

// jobHistory lists jobs newest first. The cursor names the last job of the
// previous page (creation time and id), so pages stay stable while new jobs
// arrive.
func (s *Server) jobHistory(c *gin.Context) {
	var f projections.Filter
	for _, st := range strings.Split(c.Query("status"), ",") {
		if st = strings.TrimSpace(st); st == "" {
			continue
		}
		if !validStatus[st] {
			fail(c, apperr.Field("status", "unknown status %q", st))
			return
		}
		f.Status = append(f.Status, st)
	}
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fail(c, apperr.Field("limit", "must be between 1 and 500"))
			return
		}
		limit = n
	}
	var after *cursor
	if v := c.Query("cursor"); v != "" {
		cur, err := parseCursor(v)
		if err != nil {
			fail(c, err)
			return
		}
		after = &cur
	}
	match, err := historyMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	jobs, err := s.listJobs(c, f)
	if err != nil {
		fail(c, err)
		return
	}
	sorted, err := sortJobs(jobs, c.Query("sort"))
	if err != nil {
		fail(c, err)
		return
	}
	// Newest first, the cursor's time and id place it; in another order
	// the page goes on after the cursor's job.
	passed := after == nil
	var page []projections.Job
	var next any
	for _, j := range jobs {
		switch {
		case after == nil:
		case sorted && !passed:
			passed = j.ID == after.id
			continue
		case !sorted && !after.before(j):
			continue
		}
		if !match(j) {
			continue
		}
		if len(page) == limit {
			next = newCursor(page[len(page)-1])
			break
		}
		page = append(page, j)
	}
	out := make([]gin.H, len(page))
	for i, j := range page {
		out[i] = statusView(j)
	}
	c.JSON(http.StatusOK, gin.H{"jobs": out, "next_cursor": next})
}

type cursor struct {
	created time.Time
	id      string
}

// before reports whether j comes after the cursor in newest-first order.
func (c cursor) before(j projections.Job) bool {
	if !j.CreatedAt.Equal(c.created) {
		return j.CreatedAt.Before(c.created)
	}
	return j.ID < c.id
}

func newCursor(j projections.Job) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(j.CreatedAt.UnixNano(), 10) + ":" + j.ID))
}

func parseCursor(v string) (cursor, error) {
	bad := apperr.Field("cursor", "is not a cursor this server issued")
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return cursor{}, bad
	}
	ts, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || !events.ValidJobID(id) {
		return cursor{}, bad
	}
	return cursor{created: time.Unix(0, n).UTC(), id: id}, nil
}
