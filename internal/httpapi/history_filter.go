package httpapi

import (
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
)

// historyMatch reads the list filters the console offers besides status:
// q finds jobs whose id or name contains it (case-insensitive), and
// failed=true keeps jobs that failed or have failed documents, which a
// status filter alone cannot say of a completed job.
func historyMatch(c *gin.Context) (func(projections.Job) bool, error) {
	q := strings.ToLower(strings.TrimSpace(c.Query("q")))
	if len(q) > MaxJobName*4 {
		return nil, apperr.Field("q", "must be at most %d characters", MaxJobName)
	}
	failed := false
	switch c.Query("failed") {
	case "", "false":
	case "true":
		failed = true
	default:
		return nil, apperr.Field("failed", "must be true or false")
	}
	return func(j projections.Job) bool {
		if failed && j.Status != events.StatusFailed && j.Failed == 0 {
			return false
		}
		return q == "" || strings.Contains(strings.ToLower(j.ID), q) || strings.Contains(strings.ToLower(j.Config.Name), q)
	}, nil
}

// statusRank orders jobs by status for sort=status: live ones first, as a
// person scanning the list wants them.
var statusRank = map[string]int{events.StatusProcessing: 0, events.StatusPaused: 1, events.StatusPending: 2,
	events.StatusFailed: 3, events.StatusCancelled: 4, events.StatusCompleted: 5}

// sortJobs orders a newest-first list in place and reports whether it
// changed the order. sort=status groups by status (live ones first) and
// keeps newest first inside a group; sort=-created is oldest first;
// sort=created (or none) keeps newest first.
func sortJobs(jobs []projections.Job, by string) (bool, error) {
	switch by {
	case "", "created":
		return false, nil
	case "status":
		sort.SliceStable(jobs, func(a, b int) bool { return statusRank[jobs[a].Status] < statusRank[jobs[b].Status] })
	case "-created":
		sort.SliceStable(jobs, func(a, b int) bool { return newer(jobs[b], jobs[a]) })
	default:
		return false, apperr.Field("sort", "must be created, -created or status")
	}
	return true, nil
}

func newer(a, b projections.Job) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}
