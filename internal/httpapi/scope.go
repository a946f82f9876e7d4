package httpapi

import (
	"sort"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// readable is whose jobs a read covers, the same on every read that
// takes org_id= and all= (job lists here; search, history statistics and
// analytics through readScope): the organisation asked for ("" for none)
// and the jobs the caller may read (projections.Readable, built from the
// one access policy, services.JobAccess):
//   - org_id=ID: that organisation's jobs the caller may read (a member
//     sees its own, operators, auditors and admins all of them); an
//     organisation the caller is not in is 404;
//   - all: every job the caller may read: its own, every job of each
//     organisation whose role there reads them all, and (global auditors
//     and admins) every job outside organisations;
//   - otherwise the caller's own jobs, in organisations or not.
func readable(c *gin.Context, all bool) (orgID string, r *projections.Readable, err error) {
	who := caller(c)
	if orgID, err = orgParam(c); err != nil {
		return "", nil, err
	}
	r = &projections.Readable{OwnerID: who.Actor.ID}
	switch {
	case orgID != "":
		// The policy, not a list of roles here: "" owns no job, so only
		// the caller's role in the organisation can grant the read.
		if services.CanRead(who, "", orgID) {
			r.Orgs = []string{orgID}
		}
	case all:
		for o := range who.Orgs {
			if services.CanRead(who, "", o) {
				r.Orgs = append(r.Orgs, o)
			}
		}
		sort.Strings(r.Orgs) // one query text for the same caller
		r.NoOrg = services.CanRead(who, "", "")
	}
	return orgID, r, nil
}

// listJobs is the scope of the history and active lists (readable, with
// all=true), with f's other conditions and page. The store selects the
// scope so it reads only f's page; every row still passes the access
// policy here, a second guard. more is the place of the page's last row
// when another page follows (f.Limit > 0).
func (s *Server) listJobs(c *gin.Context, f projections.Filter) (page []projections.Job, more *projections.Cursor, err error) {
	who := caller(c)
	f.OwnerID = ""
	all, err := boolParam(c, "all")
	if err != nil {
		return nil, nil, err
	}
	if f.OrgID, f.Readable, err = readable(c, all); err != nil {
		return nil, nil, err
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
