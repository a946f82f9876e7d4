package projections

import (
	"context"
	"fmt"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// List returns the jobs f selects, in f's order, f's page of them, read
// as one page from SQL: scope, conditions, order and keyset cursor are
// the query's, so a page costs its own rows however long the history.
// It answers every Filter as JobStatus.List does.
func (q *JobQueries) List(ctx context.Context, f Filter) ([]Job, error) {
	if f.Query != "" && !q.namesInSQL() {
		// Tables of an older release (until their rebuild switches)
		// have no name column: their rows, unpaged, paged here.
		all := f
		all.Query, all.After, all.Limit = "", nil, 0
		jobs, err := q.List(ctx, all)
		if err != nil {
			return nil, err
		}
		return f.page(jobs), nil
	}
	db := q.rd.DB()
	query, args := pageQuery(db.Dialect, q.readCols(), q.tables().Name("jobs"), f)
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, readErr(err)
	}
	defer rows.Close()
	out := []Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, readErr(err)
		}
		out = append(out, j.Job)
	}
	return out, readErr(rows.Err())
}

// pageQuery is f's query. A page of a scope of several parts (all=true:
// own jobs, organisations, jobs outside them) is the union of each
// part's page, each walking its own index (owner_id, created) or
// (org_id, created) newest or oldest first, so it reads about a page per
// part instead of the whole scope; the rows of the union's page are read
// after. sort=status, which no index orders, sorts only the keys too.
func pageQuery(d sqldb.Dialect, cols, jobs string, f Filter) (string, []any) {
	parts := []condition{{cond: "1 = 1"}}
	if f.Readable != nil {
		parts = f.Readable.parts(jobScopeCols)
	}
	if f.Limit == 0 || len(parts) == 0 || len(parts) == 1 && f.Sort != SortStatus {
		sel := jobSelect(d, f)
		return `SELECT ` + cols + ` FROM ` + jobs + sel.sql(), sel.args
	}
	f.Readable = nil
	base := jobSelect(d, f)
	var union []string
	var args []any
	for i, p := range parts {
		sel := base.with(p)
		union = append(union, fmt.Sprintf(`SELECT job_id FROM (SELECT job_id FROM %s%s) AS part%d`, jobs, sel.sql(), i))
		args = append(args, sel.args...)
	}
	return `SELECT ` + cols + ` FROM ` + jobs + ` WHERE job_id IN (` + strings.Join(union, ` UNION ALL `) +
		`) ORDER BY ` + base.order + fmt.Sprintf(` LIMIT %d`, f.Limit), args
}

// condition is one WHERE condition with its arguments.
type condition struct {
	cond string
	args []any
}

// scopeCols names a table's owner and organisation columns (with the
// table's alias, if any): the job-status model's and the document-search
// model's name the owner differently.
type scopeCols struct{ owner, org string }

var jobScopeCols = scopeCols{"owner_id", "org_id"}

// parts are the conditions r is the union of, on the columns c.
func (r Readable) parts(c scopeCols) []condition {
	var out []condition
	if r.OwnerID != "" {
		out = append(out, condition{c.owner + " = ?", []any{r.OwnerID}})
	}
	for _, o := range r.Orgs {
		if o != "" {
			out = append(out, condition{c.org + " = ?", []any{o}})
		}
	}
	if r.NoOrg {
		out = append(out, condition{cond: c.org + " = ''"})
	}
	return out
}

// selection is a WHERE, ORDER BY and LIMIT with their arguments.
type selection struct {
	where []string
	args  []any
	order string
	limit int
}

func (s *selection) add(cond string, args ...any) {
	s.where = append(s.where, cond)
	s.args = append(s.args, args...)
}

// with is s and c, sharing nothing with s.
func (s selection) with(c condition) selection {
	s.where = append(append([]string(nil), s.where...), c.cond)
	s.args = append(append([]any(nil), s.args...), c.args...)
	return s
}

// whereSQL is s's WHERE clause ("" for none).
func (s selection) whereSQL() string {
	if len(s.where) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(s.where, " AND ")
}

func (s selection) sql() string {
	q := s.whereSQL() + ` ORDER BY ` + s.order
	if s.limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, s.limit)
	}
	return q
}

// rankSQL is StatusRank in SQL.
var rankSQL = func() string {
	var b strings.Builder
	b.WriteString("(CASE status")
	for i, s := range statusRanks {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", s, i)
	}
	fmt.Fprintf(&b, " ELSE %d END)", len(statusRanks))
	return b.String()
}()

// jobSelect is f in SQL over the jobs table.
func jobSelect(d sqldb.Dialect, f Filter) selection {
	// Ids compare bytewise, as Go's strings do, whatever the database's
	// collation; the substring test has one name per dialect.
	id, contains := "job_id", "instr(%s, ?) > 0"
	if d == sqldb.Postgres {
		id, contains = `job_id COLLATE "C"`, "strpos(%s, ?) > 0"
	}
	var s selection
	if f.OwnerID != "" {
		s.add("owner_id = ?", f.OwnerID)
	}
	if f.OrgID != "" {
		s.add("org_id = ?", f.OrgID)
	}
	if len(f.Status) > 0 {
		s.add("status IN ("+placeholders(len(f.Status))+")", anys(f.Status)...)
	}
	if f.Readable != nil {
		readableSQL(&s, *f.Readable, jobScopeCols)
	}
	if f.Failed {
		s.add("(status = ? OR failed > 0)", events.StatusFailed)
	}
	if q := Lower(f.Query); q != "" {
		// Job ids are ASCII, so SQL's lower() folds them as Go does.
		s.add("("+fmt.Sprintf(contains, "lower(job_id)")+" OR "+fmt.Sprintf(contains, "name_lc")+")", q, q)
	}
	if c := f.After; c != nil {
		at := nanos(c.Created)
		// The first bound alone is a range an index on created can seek.
		switch f.Sort {
		case SortOldest:
			s.add("created >= ? AND (created > ? OR "+id+" > ?)", at, at, c.ID)
		case SortStatus:
			s.add(rankSQL+" >= ? AND ("+rankSQL+" > ? OR created < ? OR (created = ? AND "+id+" < ?))",
				c.Rank, c.Rank, at, at, c.ID)
		default:
			s.add("created <= ? AND (created < ? OR "+id+" < ?)", at, at, c.ID)
		}
	}
	switch f.Sort {
	case SortOldest:
		s.order = "created, " + id
	case SortStatus:
		s.order = rankSQL + ", created DESC, " + id + " DESC"
	default:
		s.order = "created DESC, " + id + " DESC"
	}
	s.limit = f.Limit
	return s
}

// readableSQL keeps the jobs r allows: its owner's, its organisations',
// and those outside organisations when r reads them all.
func readableSQL(s *selection, r Readable, c scopeCols) {
	either := anyOf(r.parts(c))
	s.add(either.cond, either.args...)
}

// readsNothing is the part of a caller who may read nothing.
var readsNothing = condition{cond: "1 = 0"}

// anyOf is one condition met when one of parts is (readsNothing for none).
func anyOf(parts []condition) condition {
	if len(parts) == 0 {
		return readsNothing
	}
	var or []string
	var args []any
	for _, p := range parts {
		or, args = append(or, p.cond), append(args, p.args...)
	}
	return condition{"(" + strings.Join(or, " OR ") + ")", args}
}
