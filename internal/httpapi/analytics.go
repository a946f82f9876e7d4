package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
)

// AnalyticsReader answers the analytics summary from the read database
// (projections.SearchReader).
type AnalyticsReader interface {
	Summary(ctx context.Context, scope projections.Scope, n int) (projections.Summary, error)
}

// analyticsSummary reports statistics over the jobs of readScope: by
// default (or all=true) every job the caller may read, as all=true on
// every read; mine=true (or all=false) the caller's own; org_id=ID an
// organisation's.
func (s *Server) analyticsSummary(c *gin.Context) {
	all, err := boolParam(c, "all")
	if err != nil {
		fail(c, err)
		return
	}
	mine, err := boolParam(c, "mine")
	if err != nil {
		fail(c, err)
		return
	}
	// By default every job one may read; all=false, like mine=true, the
	// caller's own (all=false used to be read as the default, wide).
	wide := !mine
	if c.Query("all") != "" {
		if c.Query("mine") != "" && all == mine {
			fail(c, apperr.Field("mine", "contradicts all=%t", all))
			return
		}
		wide = all
	}
	scope, err := readScope(c, wide)
	if err != nil {
		fail(c, err)
		return
	}
	byStatus, err := s.d.Jobs.CountByStatus(c.Request.Context(), projections.Filter{OrgID: scope.OrgID, Readable: scope.Readable})
	if err != nil {
		fail(c, err)
		return
	}
	sum, err := s.d.Analytics.Summary(c.Request.Context(), scope, 10)
	if err != nil {
		searchFailed(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"scope": scopeName(scope), "jobs_by_status": byStatus,
		"documents": sum.Documents, "documents_per_day": sum.DocumentsPerDay, "success_rate": sum.SuccessRate,
		"models": sum.Models, "top_failure_reasons": sum.TopFailureReasons, "top_tags": sum.TopTags,
		"usage_per_model_day": sum.UsagePerModelDay,
	})
}

// scopeName is the analytics answer's scope, shown by the console.
func scopeName(s projections.Scope) string {
	r := s.Readable
	switch {
	case s.OrgID != "" && len(r.Orgs) == 0:
		return "own jobs in organisation " + s.OrgID
	case s.OrgID != "":
		return "organisation " + s.OrgID
	case len(r.Orgs) == 0 && !r.NoOrg:
		return "own jobs"
	}
	var parts []string
	if len(r.Orgs) > 0 {
		parts = append(parts, "organisations "+strings.Join(r.Orgs, ", "))
	}
	if r.NoOrg {
		parts = append(parts, "all users outside organisations")
	}
	return "own jobs, " + strings.Join(parts, " and ")
}
