package httpapi

import (
	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// listJobs is the scope of the history and active lists, with f's other
// conditions and page:
//   - org_id=ID: that organisation's jobs the caller may read (a member
//     sees its own, operators, auditors and admins all of them); an
//     organisation the caller is not in is 404;
//   - all=true: every job the caller may read (global auditors and admins
//     outside organisations, org jobs by the caller's org roles);
//   - otherwise the caller's own jobs.
//
// The store selects the scope (projections.Readable, built from the one
// access policy, services.JobAccess) so it reads only f's page; every
// row still passes that policy here, a second guard. more is the place
// of the page's last row when another page follows (f.Limit > 0).
func (s *Server) listJobs(c *gin.Context, f projections.Filter) (page []projections.Job, more *projections.Cursor, err error) {
	who := caller(c)
	orgID, err := orgParam(c)
	if err != nil {
		return nil, nil, err
	}
	f.OwnerID, f.OrgID = "", ""
	f.Readable = &projections.Readable{OwnerID: who.Actor.ID}
	switch {
	case orgID != "":
		f.OrgID = orgID
		if services.CanRead(who, "", orgID) {
			f.Readable.Orgs = []string{orgID}
		}
	case c.Query("all") == "true":
		for o := range who.Orgs {
			if services.CanRead(who, "", o) {
				f.Readable.Orgs = append(f.Readable.Orgs, o)
			}
		}
		f.Readable.NoOrg = services.CanRead(who, "", "")
	}
	limit := f.Limit
	if limit > 0 {
		f.Limit++ // one more tells whether a next page exists
	}
	jobs, err := s.d.Jobs.List(c.Request.Context(), f)
	if err != nil {
		return nil, nil, err
	}
	if limit > 0 && len(jobs) > limit {
		jobs = jobs[:limit]
		at := projections.CursorOf(jobs[limit-1])
		more = &at
	}
	page = jobs[:0]
	for _, j := range jobs {
		if services.CanRead(who, j.OwnerID, j.OrgID) {
			page = append(page, j)
		}
	}
	return page, more, nil
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
