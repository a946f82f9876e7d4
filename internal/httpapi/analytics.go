package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// AnalyticsReader answers the analytics summary from the read database
// (projections.SearchReader).
type AnalyticsReader interface {
	Summary(ctx context.Context, owner string, n int) (projections.Summary, error)
}

// analyticsSummary reports the caller's own statistics; auditors and
// admins see everyone's.
func (s *Server) analyticsSummary(c *gin.Context) {
	who := caller(c)
	owner := who.Actor.ID
	if who.ReadAll && c.Query("mine") != "true" {
		owner = ""
	}
	byStatus := map[string]int{}
	jobs, err := s.d.Jobs.List(c.Request.Context(), projections.Filter{OwnerID: owner})
	if err != nil {
		fail(c, err)
		return
	}
	for _, j := range jobs {
		if services.CanRead(who, j.OwnerID, j.OrgID) { // organisation jobs by the caller's roles there
			byStatus[j.Status]++
		}
	}
	sum, err := s.d.Analytics.Summary(c.Request.Context(), owner, 10)
	if err != nil {
		searchFailed(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"scope": map[bool]string{true: "all users", false: "own jobs"}[owner == ""], "jobs_by_status": byStatus,
		"documents": sum.Documents, "documents_per_day": sum.DocumentsPerDay, "success_rate": sum.SuccessRate,
		"models": sum.Models, "top_failure_reasons": sum.TopFailureReasons, "top_tags": sum.TopTags,
		"usage_per_model_day": sum.UsagePerModelDay,
	})
}
