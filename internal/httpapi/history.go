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

// jobHistory lists one page of jobs, newest first unless sort says
// otherwise. The cursor names the last job of the previous page (its
// creation time and id, and for sort=status its status rank), so pages
// stay stable while new jobs arrive; the store reads only that page.
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
	f.Limit = 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fail(c, apperr.Field("limit", "must be between 1 and 500"))
			return
		}
		f.Limit = n
	}
	if err := historyFilter(c, &f); err != nil {
		fail(c, err)
		return
	}
	if v := c.Query("cursor"); v != "" {
		cur, err := s.parseCursor(c, v, f.Sort)
		if err != nil {
			fail(c, err)
			return
		}
		f.After = &cur
	}
	page, more, err := s.listJobs(c, f)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]gin.H, len(page))
	for i, j := range page {
		out[i] = statusView(j)
	}
	var next any
	if more != nil {
		next = newCursor(*more, f.Sort)
	}
	c.JSON(http.StatusOK, gin.H{"jobs": out, "next_cursor": next})
}

// newCursor encodes a place as "nanos:id", the format clients have
// always been given; sort=status adds ":rank", which an older server
// refused as a bad cursor rather than misreading it.
func newCursor(at projections.Cursor, sort string) string {
	v := strconv.FormatInt(at.Created.UnixNano(), 10) + ":" + at.ID
	if sort == projections.SortStatus {
		v += ":" + strconv.Itoa(at.Rank)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(v))
}

// parseCursor reads a cursor newCursor wrote. A sort=status cursor
// without a rank (from a server before ranks were in it) takes the rank
// of its job's status now, if the caller may read that job.
func (s *Server) parseCursor(c *gin.Context, v, sort string) (projections.Cursor, error) {
	bad := apperr.Field("cursor", "is not a cursor this server issued")
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return projections.Cursor{}, bad
	}
	ts, rest, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(ts, 10, 64)
	id, rank, ranked := strings.Cut(rest, ":")
	r, rerr := strconv.Atoi(rank)
	if !ok || err != nil || !events.ValidJobID(id) || ranked && (rerr != nil || r < 0) {
		return projections.Cursor{}, bad
	}
	cur := projections.Cursor{Created: time.Unix(0, n).UTC(), ID: id, Rank: r}
	if sort == projections.SortStatus && !ranked {
		j, found, err := s.d.Jobs.Get(c.Request.Context(), id)
		if err != nil {
			return cur, err
		}
		// Another's job is as unknown as a missing one: its status
		// must not be probed through a cursor.
		if !found || !services.CanRead(caller(c), j.OwnerID, j.OrgID) {
			return cur, bad
		}
		cur.Rank = projections.StatusRank(j.Status)
	}
	return cur, nil
}
