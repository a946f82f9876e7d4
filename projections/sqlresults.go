package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// ResultsModel is the document-results read model in SQL: one row per
// document (its input and metadata as JSON), the submitted chunks until a
// JobStarted claims them, and per job its size and newest event.
type ResultsModel struct{}

var _ SQLModel = ResultsModel{}

// Name implements SQLModel.
func (ResultsModel) Name() string { return DocumentResultsName }

// Version implements SQLModel.
// Version 2 keeps submitted chunks by job: version 1 kept them by input id
// alone, which jobs started at once from the same documents share.
func (ResultsModel) Version() int { return 2 }

// Create implements SQLModel.
func (ResultsModel) Create(ctx context.Context, tx *sqldb.Tx, t Tables) error {
	for _, q := range []string{
		`CREATE TABLE ` + t.Name("jobs") + ` (job_id TEXT PRIMARY KEY, total INTEGER NOT NULL, last_seq BIGINT NOT NULL)`,
		`CREATE TABLE ` + t.Name("rows") + ` (
			job_id TEXT NOT NULL, row_no INTEGER NOT NULL, document TEXT NOT NULL, status TEXT NOT NULL,
			attempts INTEGER NOT NULL, outcome INTEGER NOT NULL, tags TEXT NOT NULL, error TEXT NOT NULL,
			code TEXT NOT NULL, metadata TEXT, seq BIGINT NOT NULL, PRIMARY KEY (job_id, row_no))`,
		`CREATE TABLE ` + t.Name("inputs") + ` (
			input_id TEXT NOT NULL, chunk INTEGER NOT NULL, job_id TEXT NOT NULL, documents TEXT NOT NULL,
			PRIMARY KEY (job_id, input_id, chunk))`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

const resultCols = `row_no, document, status, attempts, outcome, tags, error, code, metadata, seq`

// Apply implements SQLModel with the same rules as DocumentResults.Apply.
func (ResultsModel) Apply(ctx context.Context, tx *sqldb.Tx, t Tables, env events.Envelope) error {
	if env.Type == events.TypeJobErased {
		return scrubResults(ctx, tx, t, env.JobID) // erase_scrub.go
	}
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	if s, ok := ev.(*events.DocumentsSubmitted); ok {
		docs, err := json.Marshal(s.Documents)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO `+t.Name("inputs")+` (input_id, chunk, job_id, documents) VALUES (?, ?, ?, ?)
			ON CONFLICT (job_id, input_id, chunk) DO UPDATE SET documents = excluded.documents`, s.InputID, s.Chunk, env.JobID, string(docs))
		return err
	}
	var total int
	var lastSeq int64
	err = tx.QueryRow(ctx, `SELECT total, last_seq FROM `+t.Name("jobs")+` WHERE job_id = ?`, env.JobID).Scan(&total, &lastSeq)
	known := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if s, ok := ev.(*events.JobStarted); ok {
		if known {
			return nil
		}
		return claimRows(ctx, tx, t, env, s)
	}
	if !known || (env.Seq != 0 && env.Seq <= uint64(lastSeq)) {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE `+t.Name("jobs")+` SET last_seq = ? WHERE job_id = ?`, int64(env.Seq), env.JobID); err != nil {
		return err
	}
	rs := sqlRows{ctx: ctx, tx: tx, t: t, job: env.JobID, total: total}
	switch e := ev.(type) {
	case *events.DocumentStarted:
		return rs.docEvent(env, e.Row, e.Attempt, func(r *Result) {})
	case *events.DocumentReleased:
		return rs.docEvent(env, e.Row, e.Attempt, func(r *Result) {})
	case *events.DocumentTagged:
		return rs.docEvent(env, e.Row, e.Attempt, func(r *Result) {
			r.Tags, r.Error, r.Code = e.Tags, "", ""
			md := e.Metadata
			r.Metadata = &md
		})
	case *events.DocumentFailed:
		return rs.docEvent(env, e.Row, e.Attempt, func(r *Result) {
			r.Tags, r.Error, r.Code = nil, e.Error, e.Code
			md := e.Metadata
			r.Metadata = &md
		})
	case *events.JobCancelled:
		return rs.endDocs(env, DocCancelled, "")
	case *events.JobFailed:
		return rs.endDocs(env, DocFailed, e.Reason)
	case *events.JobRetried:
		for _, row := range e.Rows {
			if row < 0 || row >= total {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE `+t.Name("rows")+` SET status = ?, attempts = ?, outcome = 0, seq = ?
				WHERE job_id = ? AND row_no = ? AND attempts < ?`, DocPending, e.Attempt, int64(env.Seq), env.JobID, row, e.Attempt); err != nil {
				return err
			}
		}
	}
	return nil
}

// claimRows builds a job's rows from its submitted chunks.
func claimRows(ctx context.Context, tx *sqldb.Tx, t Tables, env events.Envelope, s *events.JobStarted) error {
	docs, err := claimDocs(ctx, tx, t, env, s)
	if err != nil {
		return err
	}
	const chunk = 100
	for from := 0; from < len(docs); from += chunk {
		end := min(from+chunk, len(docs))
		var b strings.Builder
		args := make([]any, 0, 10*(end-from))
		b.WriteString(`INSERT INTO ` + t.Name("rows") + ` (job_id, row_no, document, status, attempts, outcome, tags, error, code, metadata, seq) VALUES `)
		for i := from; i < end; i++ {
			if i > from {
				b.WriteString(",")
			}
			b.WriteString("(?, ?, ?, ?, 1, 0, 'null', '', '', NULL, 0)")
			doc, err := json.Marshal(docs[i])
			if err != nil {
				return err
			}
			args = append(args, env.JobID, i, string(doc), DocPending)
		}
		if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// claimDocs makes a job's row in jobs and returns its documents, from the
// submitted chunks its start claims (and deletes).
func claimDocs(ctx context.Context, tx *sqldb.Tx, t Tables, env events.Envelope, s *events.JobStarted) ([]events.Document, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO `+t.Name("jobs")+` (job_id, total, last_seq) VALUES (?, ?, ?)`,
		env.JobID, s.Total, int64(env.Seq)); err != nil {
		return nil, err
	}
	docs := make([]events.Document, s.Total)
	for i := range docs {
		docs[i] = events.Document{Row: i}
	}
	rows, err := tx.Query(ctx, `SELECT documents FROM `+t.Name("inputs")+` WHERE input_id = ? AND job_id = ? ORDER BY chunk`,
		s.InputID, env.JobID)
	if err != nil {
		return nil, err
	}
	var chunks []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, err
		}
		chunks = append(chunks, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, c := range chunks {
		var part []events.Document
		if err := json.Unmarshal([]byte(c), &part); err != nil {
			return nil, err
		}
		for _, d := range part {
			if d.Row >= 0 && d.Row < len(docs) {
				docs[d.Row] = d
			}
		}
	}
	// Every chunk of the job goes, those of a concurrent start of the same
	// job id that lost too (nothing will claim them).
	if _, err := tx.Exec(ctx, `DELETE FROM `+t.Name("inputs")+` WHERE job_id = ?`, env.JobID); err != nil {
		return nil, err
	}
	return docs, nil
}

// sqlRows steps one job's result rows.
type sqlRows struct {
	ctx   context.Context
	tx    *sqldb.Tx
	t     Tables
	job   string
	total int
}

func (s sqlRows) docEvent(env events.Envelope, row, attempt int, fill func(*Result)) error {
	if row < 0 || row >= s.total {
		return nil
	}
	r, err := scanResult(s.tx.QueryRow(s.ctx, `SELECT `+resultCols+` FROM `+s.t.Name("rows")+` WHERE job_id = ? AND row_no = ?`, s.job, row))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	next, changed := r.state().onDocEvent(env.Type, attempt)
	if !changed {
		return nil
	}
	r.setState(next)
	r.Seq = env.Seq
	fill(&r)
	tags, _ := json.Marshal(r.Tags)
	var md any
	if r.Metadata != nil {
		b, err := json.Marshal(r.Metadata)
		if err != nil {
			return err
		}
		md = string(b)
	}
	_, err = s.tx.Exec(s.ctx, `UPDATE `+s.t.Name("rows")+` SET status = ?, attempts = ?, outcome = ?, tags = ?, error = ?,
		code = ?, metadata = ?, seq = ? WHERE job_id = ? AND row_no = ?`,
		r.Status, r.Attempts, boolInt(r.outcome), string(tags), r.Error, r.Code, md, int64(r.Seq), s.job, row)
	return err
}

func (s sqlRows) endDocs(env events.Envelope, status, reason string) error {
	q := `UPDATE ` + s.t.Name("rows") + ` SET status = ?, seq = ?`
	args := []any{status, int64(env.Seq)}
	if reason != "" {
		q += `, error = ?`
		args = append(args, reason)
	}
	_, err := s.tx.Exec(s.ctx, q+` WHERE job_id = ? AND status IN (?, ?)`, append(args, s.job, DocPending, DocProcessing)...)
	return err
}

func scanResult(s rowScanner) (Result, error) {
	var (
		r         Result
		doc, tags string
		outcome   int
		md        sql.NullString
		seq       int64
	)
	if err := s.Scan(&r.Row, &doc, &r.Status, &r.Attempts, &outcome, &tags, &r.Error, &r.Code, &md, &seq); err != nil {
		return Result{}, err
	}
	row := r.Row
	if err := json.Unmarshal([]byte(doc), &r.Document); err != nil {
		return Result{}, err
	}
	r.Row = row
	if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
		return Result{}, err
	}
	if md.Valid {
		r.Metadata = &events.TagMetadata{}
		if err := json.Unmarshal([]byte(md.String), r.Metadata); err != nil {
			return Result{}, err
		}
	}
	r.outcome, r.Seq = outcome != 0, uint64(seq)
	return r, nil
}

// ResultQueries answers result queries from the serving document-results
// tables.
type ResultQueries struct{ rd ReadDB }

// NewResultQueries reads through rd (the runner).
func NewResultQueries(rd ReadDB) *ResultQueries { return &ResultQueries{rd: rd} }

func (q *ResultQueries) tables() Tables { return q.rd.Tables(DocumentResultsName) }

// Page returns up to limit rows of a job starting at row from, the job's
// number of rows, and whether the job is known.
func (q *ResultQueries) Page(ctx context.Context, jobID string, from, limit int) ([]Result, int, bool, error) {
	var total int
	err := q.rd.DB().QueryRow(ctx, `SELECT total FROM `+q.tables().Name("jobs")+` WHERE job_id = ?`, jobID).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, readErr(err)
	}
	from = max(from, 0)
	if limit <= 0 {
		limit = total
	}
	out, err := q.query(ctx, `SELECT `+resultCols+` FROM `+q.tables().Name("rows")+` WHERE job_id = ? AND row_no >= ?
		ORDER BY row_no LIMIT ?`, jobID, from, limit)
	return out, total, true, err
}

// Rows returns the given rows of a job (unknown rows are skipped).
func (q *ResultQueries) Rows(ctx context.Context, jobID string, rows []int) ([]Result, error) {
	if len(rows) == 0 {
		return []Result{}, nil
	}
	args := []any{jobID}
	for _, r := range rows {
		args = append(args, r)
	}
	all, err := q.query(ctx, `SELECT `+resultCols+` FROM `+q.tables().Name("rows")+` WHERE job_id = ? AND row_no IN (`+
		placeholders(len(rows))+`)`, args...)
	if err != nil {
		return nil, err
	}
	// In the order asked, as the in-memory model answers.
	byRow := make(map[int]Result, len(all))
	for _, r := range all {
		byRow[r.Row] = r
	}
	out := make([]Result, 0, len(rows))
	for _, r := range rows {
		if res, ok := byRow[r]; ok {
			out = append(out, res)
		}
	}
	return out, nil
}

func (q *ResultQueries) query(ctx context.Context, query string, args ...any) ([]Result, error) {
	rows, err := q.rd.DB().Query(ctx, query, args...)
	if err != nil {
		return nil, readErr(err)
	}
	defer rows.Close()
	out := []Result{}
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, readErr(err)
		}
		out = append(out, r)
	}
	return out, readErr(rows.Err())
}
