package httpapi

import (
	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// readScope is whose jobs a read of the document-search model covers
// (GET /api/documents, /api/history/stats, /api/analytics/summary); the
// model applies it in SQL, so pages are full and counts exact:
//   - org_id=ID: that organisation's jobs the caller may read: all of them
//     when the policy lets it read any job there (operator, auditor,
//     admin), else (a member) its own; an organisation the caller is not
//     in is 404 naming org_id, as for job lists (scope.go);
//   - all (all=true, asked by a global auditor or admin): every job outside
//     organisations, as the global roles do not reach into one;
//   - otherwise the caller's own jobs, in organisations or not.
func readScope(c *gin.Context, all bool) (projections.Scope, error) {
	who := caller(c)
	orgID, err := orgParam(c)
	if err != nil {
		return projections.Scope{}, err
	}
	if orgID != "" {
		// The policy, not a list of roles here: "" owns no job, so only
		// the caller's role in the organisation can grant the read.
		if services.CanRead(who, "", orgID) {
			return projections.Scope{OrgID: orgID}, nil
		}
		return projections.Scope{OrgID: orgID, Owner: who.Actor.ID}, nil
	}
	if all && who.ReadAll {
		return projections.Scope{NoOrg: true}, nil
	}
	return projections.Scope{Owner: who.Actor.ID}, nil
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
