package projections

import (
	"fmt"
	"slices"
	"strings"
)

// Scope is whose jobs a read covers: those of Owner and of OrgID (each
// when set) that Readable allows (nil: no access limit). The HTTP reads
// build it as the job lists build their Filter (internal/httpapi
// readable), so all=true covers the same jobs on every read. The zero
// Scope is every job, for tools (Dump), never a caller.
type Scope struct {
	Owner    string    // only this owner's jobs
	OrgID    string    // only this organisation's jobs
	Readable *Readable // only the jobs it allows
}

// where is the scope's conditions on a table aliased as alias ("" for
// none) that has owner and org_id columns.
func (s Scope) where(alias string) ([]string, []any) {
	conds, args, parts := s.split(alias)
	if len(parts) > 0 {
		either := anyOf(parts)
		conds, args = append(conds, either.cond), append(args, either.args...)
	}
	return conds, args
}

// split is the scope as conditions every job meets (Owner's, OrgID's) and
// the parts of Readable, one of which it meets: none when Readable is
// nil, one that nothing meets when it allows nothing.
func (s Scope) split(alias string) (conds []string, args []any, parts []condition) {
	if alias != "" {
		alias += "."
	}
	if s.Owner != "" {
		conds, args = append(conds, alias+"owner = ?"), append(args, s.Owner)
	}
	if s.OrgID != "" {
		conds, args = append(conds, alias+"org_id = ?"), append(args, s.OrgID)
	}
	if s.Readable != nil {
		if parts = s.Readable.parts(scopeCols{alias + "owner", alias + "org_id"}); len(parts) == 0 {
			parts = []condition{readsNothing}
		}
	}
	return conds, args, parts
}

// keys are the index tokens that narrow a search to the scope: a match
// has every one of all (Owner's, OrgID's) and one of anyOf (Readable's
// parts). Documents outside organisations carry orgToken("").
func (s Scope) keys() (all, anyOf []string) {
	if s.Owner != "" {
		all = append(all, ownerToken(s.Owner))
	}
	if s.OrgID != "" {
		all = append(all, orgToken(s.OrgID))
	}
	if r := s.Readable; r != nil {
		if r.OwnerID != "" {
			anyOf = append(anyOf, ownerToken(r.OwnerID))
		}
		for _, o := range r.Orgs {
			if o != "" {
				anyOf = append(anyOf, orgToken(o))
			}
		}
		if r.NoOrg {
			anyOf = append(anyOf, orgToken(""))
		}
	}
	return all, anyOf
}

// newestIDs is a subquery of the ids of the newest n documents (docs
// aliased d) that meet conds and one of parts: the union of each part's
// newest n, each walking its own index ((owner, id) or (org_id, id)) in id
// order, so it reads about n documents a part however large the scope, as
// the job lists' pageQuery does. The ids may repeat (a caller's own job in
// an organisation it reads in full): use it with IN.
func newestIDs(docs string, conds []string, args []any, parts []condition, n int) (string, []any) {
	var union []string
	var out []any
	for i, p := range parts {
		where := strings.Join(slices.Concat(conds, []string{p.cond}), " AND ")
		union = append(union, fmt.Sprintf("SELECT id FROM (SELECT d.id FROM %s d WHERE %s ORDER BY d.id DESC LIMIT %d) AS part%d",
			docs, where, n, i))
		out = append(append(out, args...), p.args...)
	}
	return strings.Join(union, " UNION ALL "), out
}
