package httpapi

import (
	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// docScope is who may see which search hits: the document-search model
// knows owners, not organisations, so every hit passes the one access
// policy (services.JobAccess) through its job, looked up once per job per
// request. org_id=ID searches that organisation's documents the caller may
// read. A page may hold fewer rows than asked; next_cursor still continues.
type docScope struct {
	s     *Server
	c     *gin.Context
	orgID string
	jobs  map[string]bool
}

// newDocScope reads org_id and widens q to every owner when it is given
// (the policy then keeps what the caller's role there allows).
func (s *Server) newDocScope(c *gin.Context, q *projections.DocQuery) (*docScope, error) {
	d := &docScope{s: s, c: c, orgID: c.Query("org_id"), jobs: map[string]bool{}}
	if d.orgID != "" {
		if !events.ValidOrgID(d.orgID) || caller(c).Orgs[d.orgID] == "" {
			return nil, &apperr.Error{Code: apperr.NotFound, Field: "org_id", Message: "organisation " + d.orgID + " not found"}
		}
		q.Owner = ""
	}
	return d, nil
}

// keep returns the hits the caller may read.
func (d *docScope) keep(hits []projections.DocHit) ([]projections.DocHit, error) {
	out := hits[:0]
	for _, h := range hits {
		ok, seen := d.jobs[h.JobID]
		if !seen {
			job, found, err := d.s.d.Jobs.Get(d.c.Request.Context(), h.JobID)
			if err != nil {
				return nil, err
			}
			ok = found && services.CanRead(caller(d.c), job.OwnerID, job.OrgID) && (d.orgID == "" || job.OrgID == d.orgID)
			d.jobs[h.JobID] = ok
		}
		if ok {
			out = append(out, h)
		}
	}
	return out, nil
}
