package httpapi

import (
	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// listJobs is the scope of the history and active lists, with f's other
// conditions:
//   - org_id=ID: that organisation's jobs the caller may read (a member
//     sees its own, operators, auditors and admins all of them); an
//     organisation the caller is not in is 404;
//   - all=true: every job the caller may read (global auditors and admins
//     outside organisations, org jobs by the caller's org roles);
//   - otherwise the caller's own jobs.
//
// Every row passes the one access policy (services.JobAccess).
func (s *Server) listJobs(c *gin.Context, f projections.Filter) ([]projections.Job, error) {
	who := caller(c)
	orgID, err := orgParam(c)
	if err != nil {
		return nil, err
	}
	switch {
	case orgID != "":
		f.OwnerID = ""
	case c.Query("all") == "true":
		f.OwnerID = ""
	default:
		f.OwnerID = who.Actor.ID
	}
	jobs, err := s.d.Jobs.List(c.Request.Context(), f)
	if err != nil {
		return nil, err
	}
	out := jobs[:0]
	for _, j := range jobs {
		if orgID != "" && j.OrgID != orgID {
			continue
		}
		if services.CanRead(who, j.OwnerID, j.OrgID) {
			out = append(out, j)
		}
	}
	return out, nil
}

// orgParam is the org_id a read asks for ("" for none): an organisation
// the caller is not in is 404 naming org_id, so ids cannot be probed.
func orgParam(c *gin.Context) (string, error) {
	orgID := c.Query("org_id")
	if orgID != "" && (!events.ValidOrgID(orgID) || caller(c).Orgs[orgID] == "") {
		return "", &apperr.Error{Code: apperr.NotFound, Field: "org_id", Message: "organisation " + orgID + " not found"}
	}
	return orgID, nil
}
