package httpapi

import (
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
)

// historyFilter reads the list filters the console offers besides
// status: q finds jobs whose id or name contains it (case-insensitive),
// failed=true keeps jobs that failed or have failed documents, which a
// status filter alone cannot say of a completed job, and sort orders the
// list: created (or none) newest first, -created oldest first, status
// live ones first (projections.StatusRank), newest first inside a status.
func historyFilter(c *gin.Context, f *projections.Filter) error {
	q, err := textParam(c, "q", MaxJobName*utf8.UTFMax)
	if err != nil {
		return err
	}
	f.Query = strings.TrimSpace(q)
	if f.Failed, err = boolParam(c, "failed"); err != nil {
		return err
	}
	f.Sort = c.Query("sort")
	if !projections.ValidSort(f.Sort) {
		return apperr.Field("sort", "must be created, -created or status")
	}
	return nil
}
