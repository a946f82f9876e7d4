package httpapi

import (
	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// readScope is whose jobs a read of the document-search model covers
// (GET /api/documents, /api/history/stats, /api/analytics/summary): the
// same jobs as a job list's with the same org_id= and all= (readable), so
// all=true means one thing on every read. The model applies it in SQL, so
// pages are full and counts exact.
func readScope(c *gin.Context, all bool) (projections.Scope, error) {
	orgID, r, err := readable(c, all)
	if err != nil {
		return projections.Scope{}, err
	}
	return projections.Scope{OrgID: orgID, Readable: r}, nil
}

// queryScope is readScope with all= as the request gives it (true or
// false; anything else is a 400 naming it).
func queryScope(c *gin.Context) (projections.Scope, error) {
	all, err := boolParam(c, "all")
	if err != nil {
		return projections.Scope{}, err
	}
	return readScope(c, all)
}

// keepReadable is a second guard behind the SQL scope: every hit passes
// the one access policy (services.JobAccess) by the owner and
// organisation it carries. It drops nothing while scope and policy agree.
func keepReadable(c *gin.Context, hits []projections.DocHit) []projections.DocHit {
	who := caller(c)
	out := hits[:0]
	for _, h := range hits {
		if services.CanRead(who, h.Owner, h.OrgID) {
			out = append(out, h)
		}
	}
	return out
}
