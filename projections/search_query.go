package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tagstream/tagstream/internal/sqldb"
)

// SearchReader answers queries over the document-search model's tables.
type SearchReader struct {
	DB *sqldb.DB
	// Tables names the generation that serves reads now (a rebuild
	// switches it); nil means the first generation's prefix.
	Tables func() Tables
	// oneStatement asks every search in one statement, as before the
	// window (see searchPlan): the benchmark's reference.
	oneStatement bool
}

// SearchTables is the first generation's table names.
var SearchTables = Tables{Prefix: "document_search_"}

func (r *SearchReader) tables() Tables {
	if r.Tables == nil {
		return SearchTables
	}
	return r.Tables()
}

// DocQuery selects documents, newest first. Owner, OrgID and Readable
// are its Scope (flat, so a query stays one literal).
type DocQuery struct {
	Owner    string    // "" means every owner's
	OrgID    string    // only this organisation's documents
	Readable *Readable // only documents of the jobs it allows (nil: any)
	Text     string    // words that must all occur; "word*" matches a prefix
	Tag      string    // a tag the document has (case-insensitive)
	JobID    string
	Statuses []string
	Since    time.Time // the job started at or after (zero: no bound)
	Until    time.Time // the job started before (zero: no bound)
	Limit    int
	After    int64 // the cursor: the id of the last document of the previous page
}

// QueryError is a bad query parameter, named.
type QueryError struct {
	Field, Reason string
}

func (e *QueryError) Error() string { return e.Field + ": " + e.Reason }

// DocHit is one document of a search.
type DocHit struct {
	ID               int64           `json:"-"`
	JobID            string          `json:"job_id"`
	RowID            int             `json:"row_id"`
	Owner            string          `json:"owner_id"`
	OrgID            string          `json:"org_id,omitempty"`
	OwnerEmail       string          `json:"owner_email,omitempty"`
	Title            string          `json:"title"`
	FilePath         string          `json:"file_path"`
	SourceType       string          `json:"file_source_type,omitempty"`
	Status           string          `json:"status"`
	Attempt          int             `json:"attempt"`
	Tags             []string        `json:"tags"`
	Description      string          `json:"description,omitempty"`
	Extra            json.RawMessage `json:"extra,omitempty"`
	Error            string          `json:"error,omitempty"`
	ErrorCode        string          `json:"error_code,omitempty"`
	Model            string          `json:"model,omitempty"`
	Method           string          `json:"extraction_method,omitempty"`
	PromptTokens     int64           `json:"prompt_tokens"`
	CompletionTokens int64           `json:"completion_tokens"`
	TotalTokens      int64           `json:"total_tokens"`
	ModelCalls       int64           `json:"model_calls"`
	CostUSD          float64         `json:"cost_usd"`
	DurationMS       int64           `json:"duration_ms"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	FinishedAt       *time.Time      `json:"finished_at"`
}

const hitColumns = `d.id, d.job_id, d.row_id, d.owner, d.org_id, d.owner_email, d.title, d.file_path, d.source_type, d.status, d.attempt,
	d.tags, d.description, d.extra, d.error, d.error_code, d.model, d.method, d.prompt_tokens, d.completion_tokens,
	d.total_tokens, d.calls, d.cost_usd, d.duration_ms, d.created_at, d.updated_at, d.finished_at`

// MaxSearchLimit bounds one page of a search.
const MaxSearchLimit = 500

// Search returns up to q.Limit documents after the cursor, and the cursor
// of the next page (0 when this one is the last). Every page is one
// statement walking an index in id order, so a page costs about the same
// however deep into the results it is; on PostgreSQL a scoped search by
// words or tags may be two (see searchPlan).
func (r *SearchReader) Search(ctx context.Context, q DocQuery) ([]DocHit, int64, error) {
	p, err := r.searchSQL(q)
	if err != nil {
		return nil, 0, err
	}
	var out []DocHit
	if p.window != "" {
		if out, err = r.hits(ctx, p.window, p.windowArgs); err != nil {
			return nil, 0, err
		}
	}
	if len(out) <= q.Limit {
		if out, err = r.hits(ctx, p.sql, p.args); err != nil {
			return nil, 0, err
		}
	}
	var next int64
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

func (r *SearchReader) hits(ctx context.Context, sqlText string, args []any) ([]DocHit, error) {
	rows, err := r.DB.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DocHit
	for rows.Next() {
		h, err := scanHit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// searchPlan is the statements of one page: window (if set) first, and
// sql only when window did not fill the page; each alone is the page.
//
// Why a window on PostgreSQL: its GIN index keeps no order, so a search
// through it fetches every match and sorts them, and the planner cannot
// tell when that is slow: it takes the owner's key in the tsquery and
// owner = ? as independent, and so believes an owner's common word
// matches a few rows when it matches most of the owner's documents
// (23 ms a page at 1M documents, growing with the owner's). window reads
// only the scope's newest searchWindow pages' worth of documents through
// the (owner, id) or (org_id, id) btree, newest first, testing each
// tsvector, and stops at the page's end: a common word fills the page
// there. If it does not, the match is rarer than one in searchWindow and
// sql (the one statement, planned as before) answers the page; the
// window cost it one short btree walk more. The matches the window found
// are the newest of the page's, so a full window page is sql's page.
type searchPlan struct {
	sql, window      string
	args, windowArgs []any
}

// searchWindow is how many pages of the scope's newest documents a
// PostgreSQL search reads through the btree before the GIN index.
const searchWindow = 20

func (r *SearchReader) searchSQL(q DocQuery) (searchPlan, error) {
	if q.Limit < 1 || q.Limit > MaxSearchLimit {
		return searchPlan{}, &QueryError{"limit", fmt.Sprintf("must be between 1 and %d", MaxSearchLimit)}
	}
	terms, err := parseQuery(q.Text)
	if err != nil {
		return searchPlan{}, &QueryError{"q", err.Error()}
	}
	if strings.TrimSpace(q.Text) != "" && len(terms) == 0 {
		return searchPlan{}, &QueryError{"q", "has no words to search for"}
	}
	t := r.tables()
	spec := searchSpec{terms: terms}
	if q.Tag != "" {
		if normTag(q.Tag) == "" {
			return searchPlan{}, &QueryError{"tag", "is empty"}
		}
		spec.keys = append(spec.keys, tagToken(q.Tag))
	}
	// The scope narrows an index search only when something else is
	// searched: alone, the (owner, id) and (org_id, id) indexes of
	// documents answer it. Its SQL conditions below decide; the keys
	// only spare the index walking matches outside the scope.
	scope := q.Scope()
	indexed := len(spec.keys)+len(terms) > 0
	if indexed {
		all, anyOf := scope.keys()
		spec.keys, spec.anyKeys = append(spec.keys, all...), anyOf
	}
	docs := t.Name("documents")
	from, key := docs+" d", "d.id"
	var where []string
	var args []any
	switch {
	case !indexed:
	case r.DB.Dialect == sqldb.Postgres:
		where = append(where, "d.tsv @@ to_tsquery('simple', ?)")
		args = append(args, tsQuery(spec))
	default:
		// CROSS JOIN keeps SQLite's join order: FTS5 walks its rowids
		// in descending order itself, and stops at the page's end.
		from = t.Name("fts") + " f CROSS JOIN " + docs + " d ON d.id = f.rowid"
		key = "f.rowid"
		where = append(where, t.Name("fts")+" MATCH ?")
		args = append(args, ftsMatch(spec))
	}
	sc, sargs := scope.where("d")
	where, args = append(where, sc...), append(args, sargs...)
	// rest is the query's conditions besides the scope's and the index's.
	var rest []string
	var rargs []any
	add := func(cond string, a ...any) { rest, rargs = append(rest, cond), append(rargs, a...) }
	if q.JobID != "" {
		add("d.job_id = ?", q.JobID)
	}
	if len(q.Statuses) > 0 {
		add("d.status IN ("+placeholders(len(q.Statuses))+")", anys(q.Statuses)...)
	}
	if !q.Since.IsZero() {
		add("d.created_at >= ?", boundNanos(q.Since))
	}
	if !q.Until.IsZero() {
		add("d.created_at < ?", boundNanos(q.Until))
	}
	where, args = append(where, rest...), append(args, rargs...)
	var after []string
	var aargs []any
	if q.After > 0 {
		where, args = append(where, key+" < ?"), append(args, q.After)
		after, aargs = []string{"d.id < ?"}, []any{q.After}
	}
	page := fmt.Sprintf(" ORDER BY %s DESC LIMIT %d", key, q.Limit+1)
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	base, bargs, parts := scope.split("d")
	if !indexed && len(parts) > 1 && r.DB.Dialect != sqldb.Postgres {
		// A scope of several parts (all=true) as one OR, SQLite reads
		// and sorts all of it (108 ms a page at 20,000 documents): the
		// page is the newest of each part's page (0.8 ms). PostgreSQL
		// plans the OR itself, faster than the union (0.7 ms against
		// 1.3 ms).
		ids, iargs := newestIDs(docs, slices.Concat(base, rest, after), slices.Concat(bargs, rargs, aargs), parts, q.Limit+1)
		return searchPlan{sql: "SELECT " + hitColumns + " FROM " + docs + " d WHERE d.id IN (" + ids + ")" + page, args: iargs}, nil
	}
	if !indexed || len(sc) == 0 || r.DB.Dialect != sqldb.Postgres || r.oneStatement {
		return searchPlan{sql: "SELECT " + hitColumns + " FROM " + from + cond + page, args: args}, nil
	}
	// The scope's newest documents, as the scope's btree yields them (a
	// subquery with LIMIT is planned on its own).
	window := fmt.Sprintf("SELECT d.* FROM %s d WHERE %s ORDER BY d.id DESC LIMIT %d",
		docs, strings.Join(slices.Concat(sc, after), " AND "), searchWindow*(q.Limit+1))
	p := searchPlan{sql: "SELECT " + hitColumns + " FROM " + from + cond + page, args: args}
	p.window = "SELECT " + hitColumns + " FROM (" + window + ") d" + cond + page
	p.windowArgs = slices.Concat(sargs, aargs, args)
	return p, nil
}

// Scope is the query's scope.
func (q DocQuery) Scope() Scope { return Scope{Owner: q.Owner, OrgID: q.OrgID, Readable: q.Readable} }

func scanHit(rows *sql.Rows) (DocHit, error) {
	var h DocHit
	var tags, extra string
	var created, updated int64
	var finished sql.NullInt64
	err := rows.Scan(&h.ID, &h.JobID, &h.RowID, &h.Owner, &h.OrgID, &h.OwnerEmail, &h.Title, &h.FilePath, &h.SourceType, &h.Status,
		&h.Attempt, &tags, &h.Description, &extra, &h.Error, &h.ErrorCode, &h.Model, &h.Method, &h.PromptTokens,
		&h.CompletionTokens, &h.TotalTokens, &h.ModelCalls, &h.CostUSD, &h.DurationMS, &created, &updated, &finished)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal([]byte(tags), &h.Tags); err != nil {
		return h, fmt.Errorf("document %d tags: %w", h.ID, err)
	}
	if h.Tags == nil {
		h.Tags = []string{}
	}
	if extra != "" {
		h.Extra = json.RawMessage(extra)
	}
	h.CreatedAt, h.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	if finished.Valid {
		f := time.Unix(0, finished.Int64).UTC()
		h.FinishedAt = &f
	}
	return h, nil
}

// NewSearchReader reads the serving generation of the document-search
// model in rd (the SQL runner), so a rebuild's switch is seen at once.
func NewSearchReader(rd ReadDB) *SearchReader {
	return &SearchReader{DB: rd.DB(), Tables: func() Tables { return rd.Tables(DocumentSearchName) }}
}

// Dump is the model as canonical JSON: every document in id order, the
// statistics and the analytics summary over everyone, so a rebuilt
// generation can be compared with the live one.
func (r *SearchReader) Dump(ctx context.Context) ([]byte, error) {
	var docs []DocHit
	for after := int64(0); ; {
		page, next, err := r.Search(ctx, DocQuery{Limit: MaxSearchLimit, After: after})
		if err != nil {
			return nil, err
		}
		docs = append(docs, page...)
		if next == 0 {
			break
		}
		after = next
	}
	st, err := r.Stats(ctx, Scope{}, 1<<30)
	if err != nil {
		return nil, err
	}
	sum, err := r.Summary(ctx, Scope{}, 1<<30)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"documents": docs, "stats": st, "summary": sum})
}
