package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// AnalyticsReader answers the analytics summary.
type AnalyticsReader interface {
	Summary(owner string, n int) projections.Summary
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
	for _, j := range s.d.Jobs.List(projections.Filter{OwnerID: owner}) {
		if services.CanRead(who, j.OwnerID, j.OrgID) { // organisation jobs by the caller's roles there
			byStatus[j.Status]++
		}
	}
	sum := s.d.Analytics.Summary(owner, 10)
	c.JSON(http.StatusOK, gin.H{
		"scope": map[bool]string{true: "all users", false: "own jobs"}[owner == ""], "jobs_by_status": byStatus,
		"documents": sum.Documents, "documents_per_day": sum.DocumentsPerDay, "success_rate": sum.SuccessRate,
		"models": sum.Models, "top_failure_reasons": sum.TopFailureReasons, "top_tags": sum.TopTags,
	})
}
