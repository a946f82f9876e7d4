package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// ReadDB is where SQL readers find a model's serving tables: the runner.
type ReadDB interface {
	DB() *sqldb.DB
	Tables(model string) Tables
}

// JobStatusModel is the job-status read model in SQL: one row per job
// (its config, columns and usage as JSON, so new optional fields flow
// through without a migration) and one per document, stepped by
// DocState.Step like the in-memory model.
type JobStatusModel struct{}

var _ SQLModel = JobStatusModel{}

// Name implements SQLModel.
func (JobStatusModel) Name() string { return JobStatusName }

// Version implements SQLModel. 2: jobs carry org_id (organisations).
// 3: jobs carry their erasure and legal hold. 4: jobs carry their name
// case-folded (name_lc), so the history's q filters in SQL. 5: name_lc
// in NFC (Lower), so q finds a name whatever form its letters were typed in.
func (JobStatusModel) Version() int { return 5 }

// Create implements SQLModel.
func (JobStatusModel) Create(ctx context.Context, tx *sqldb.Tx, t Tables) error {
	for _, q := range []string{
		`CREATE TABLE ` + t.Name("jobs") + ` (
			job_id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, owner_email TEXT NOT NULL, status TEXT NOT NULL,
			total INTEGER NOT NULL, processed INTEGER NOT NULL, failed INTEGER NOT NULL, cancelled INTEGER NOT NULL,
			attempt INTEGER NOT NULL, config TEXT NOT NULL, reason TEXT NOT NULL, reason_code TEXT NOT NULL,
			created BIGINT NOT NULL, started BIGINT, updated BIGINT NOT NULL, finished BIGINT,
			control_seq BIGINT NOT NULL, request_digest TEXT NOT NULL, usage TEXT NOT NULL,
			columns TEXT NOT NULL, column_mapping TEXT NOT NULL, last_seq BIGINT NOT NULL, org_id TEXT NOT NULL,
			erased_at BIGINT, erase_reason TEXT NOT NULL, legal_hold INTEGER NOT NULL, legal_hold_reason TEXT NOT NULL,
			name_lc TEXT NOT NULL)`,
		`CREATE INDEX ` + t.Name("jobs_org") + ` ON ` + t.Name("jobs") + ` (org_id, created)`,
		`CREATE INDEX ` + t.Name("jobs_owner") + ` ON ` + t.Name("jobs") + ` (owner_id, created)`,
		`CREATE INDEX ` + t.Name("jobs_status") + ` ON ` + t.Name("jobs") + ` (status)`,
		`CREATE TABLE ` + t.Name("docs") + ` (
			job_id TEXT NOT NULL, row_no INTEGER NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL,
			outcome INTEGER NOT NULL, PRIMARY KEY (job_id, row_no))`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

const jobCols = `job_id, owner_id, owner_email, status, total, processed, failed, cancelled, attempt, config,
	reason, reason_code, created, started, updated, finished, control_seq, request_digest, usage, columns,
	column_mapping, last_seq, org_id, erased_at, erase_reason, legal_hold, legal_hold_reason, name_lc`

// Apply implements SQLModel with the same rules as JobStatus.Apply.
func (JobStatusModel) Apply(ctx context.Context, tx *sqldb.Tx, t Tables, env events.Envelope) error {
	if env.Type == events.TypeDocumentsSubmitted || env.Type == events.TypeWebhookAttempted {
		return nil
	}
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	if s, ok := ev.(*events.JobStarted); ok {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+t.Name("jobs")+` WHERE job_id = ?`, env.JobID).Scan(&n); err != nil || n > 0 {
			return err
		}
		e := newJobEntry(env, s)
		if err := insertJob(ctx, tx, t, e); err != nil {
			return err
		}
		return insertDocs(ctx, tx, t, env.JobID, e.docs)
	}
	j, err := loadJob(ctx, tx, t, env.JobID)
	if err != nil || j == nil {
		return err // nil: events of a job whose start never committed
	}
	if env.Seq != 0 {
		if env.Seq <= j.lastSeq {
			return nil
		}
		j.lastSeq = env.Seq
	}
	j.UpdatedAt = env.Time
	d := sqlDocs{ctx: ctx, tx: tx, t: t, j: j}
	switch e := ev.(type) {
	case *events.DocumentStarted:
		err = d.docEvent(env, e.Row, e.Attempt)
		if j.StartedAt == nil {
			ts := env.Time
			j.StartedAt = &ts
		}
	case *events.DocumentTagged:
		j.Usage.add(e.Metadata)
		err = d.docEvent(env, e.Row, e.Attempt)
	case *events.DocumentFailed:
		j.Usage.add(e.Metadata)
		err = d.docEvent(env, e.Row, e.Attempt)
	case *events.DocumentReleased:
		err = d.docEvent(env, e.Row, e.Attempt)
	case *events.JobRetried:
		if e.Attempt <= j.Attempt {
			return updateJobSeq(ctx, tx, t, j)
		}
		err = d.retry(e)
		j.control(env, events.StatusPending)
	case *events.JobCancelled:
		err = d.endDocs(DocCancelled)
		j.Reason, j.ReasonCode = e.Reason, ""
		j.control(env, events.StatusCancelled)
	case *events.JobFailed:
		err = d.endDocs(DocFailed)
		j.Reason, j.ReasonCode = e.Reason, e.Code
		j.control(env, events.StatusFailed)
	default:
		j.controlled(env, ev)
	}
	if err != nil {
		return err
	}
	return updateJob(ctx, tx, t, j)
}

// sqlDocs steps one job's document rows.
type sqlDocs struct {
	ctx context.Context
	tx  *sqldb.Tx
	t   Tables
	j   *jobEntry
}

func (d sqlDocs) docEvent(env events.Envelope, row, attempt int) error {
	j := d.j
	if attempt == j.Attempt && j.Status == events.StatusPending {
		j.Status = events.StatusProcessing
	}
	if row < 0 || row >= j.Total {
		return nil
	}
	var cur DocState
	var outcome int
	err := d.tx.QueryRow(d.ctx, `SELECT status, attempt, outcome FROM `+d.t.Name("docs")+` WHERE job_id = ? AND row_no = ?`,
		j.ID, row).Scan(&cur.Status, &cur.Attempt, &outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	cur.Outcome = outcome != 0
	next, changed := cur.onDocEvent(env.Type, attempt)
	if !changed {
		return nil
	}
	return d.set(row, cur, next)
}

// set writes a document's new state and moves the job's tallies.
func (d sqlDocs) set(row int, cur, next DocState) error {
	c := counts{d.j.Processed, d.j.Failed, d.j.Cancelled}
	c.move(cur.Status, next.Status)
	d.j.Processed, d.j.Failed, d.j.Cancelled = c.Processed, c.Failed, c.Cancelled
	_, err := d.tx.Exec(d.ctx, `UPDATE `+d.t.Name("docs")+` SET status = ?, attempt = ?, outcome = ? WHERE job_id = ? AND row_no = ?`,
		next.Status, next.Attempt, boolInt(next.Outcome), d.j.ID, row)
	return err
}

// endDocs marks every unfinished document as the job's end leaves it and
// recounts the tallies.
func (d sqlDocs) endDocs(status string) error {
	if _, err := d.tx.Exec(d.ctx, `UPDATE `+d.t.Name("docs")+` SET status = ? WHERE job_id = ? AND status IN (?, ?)`,
		status, d.j.ID, DocPending, DocProcessing); err != nil {
		return err
	}
	return d.recount()
}

func (d sqlDocs) recount() error {
	rows, err := d.tx.Query(d.ctx, `SELECT status, count(*) FROM `+d.t.Name("docs")+` WHERE job_id = ? GROUP BY status`, d.j.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var c counts
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return err
		}
		c.add(st, n)
	}
	d.j.Processed, d.j.Failed, d.j.Cancelled = c.Processed, c.Failed, c.Cancelled
	return rows.Err()
}

func (d sqlDocs) retry(e *events.JobRetried) error {
	j := d.j
	j.Attempt = e.Attempt
	j.Config = e.Config
	j.Reason, j.ReasonCode = "", ""
	for _, row := range e.Rows {
		if row < 0 || row >= j.Total {
			continue
		}
		if _, err := d.tx.Exec(d.ctx, `UPDATE `+d.t.Name("docs")+` SET status = ?, attempt = ?, outcome = 0 WHERE job_id = ? AND row_no = ?`,
			DocPending, e.Attempt, j.ID, row); err != nil {
			return err
		}
	}
	return d.recount()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func insertDocs(ctx context.Context, tx *sqldb.Tx, t Tables, jobID string, docs []DocState) error {
	const chunk = 200
	for from := 0; from < len(docs); from += chunk {
		end := min(from+chunk, len(docs))
		var b strings.Builder
		args := make([]any, 0, 5*(end-from))
		b.WriteString(`INSERT INTO ` + t.Name("docs") + ` (job_id, row_no, status, attempt, outcome) VALUES `)
		for i := from; i < end; i++ {
			if i > from {
				b.WriteString(",")
			}
			b.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, jobID, i, docs[i].Status, docs[i].Attempt, boolInt(docs[i].Outcome))
		}
		if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func nanos(t time.Time) int64 { return t.UnixNano() }

// Times stored as nanoseconds span 1677-09-21 to 2262-04-11; UnixNano
// is undefined outside, and a bound such as until=9999-12-31 (a common
// "no end") overflowed into one that matched nothing. A bound past
// either end saturates, which matches everything stored on that side.
var minNanos, maxNanos = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

// boundNanos is t as a query bound on a nanosecond column.
func boundNanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func nullNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func jobArgs(j *jobEntry) ([]any, error) {
	cfg, err := json.Marshal(j.Config)
	if err != nil {
		return nil, err
	}
	usage, _ := json.Marshal(j.Usage)
	cols, _ := json.Marshal(j.Columns)
	mapping, _ := json.Marshal(j.ColumnMapping)
	return []any{j.ID, j.OwnerID, j.OwnerEmail, j.Status, j.Total, j.Processed, j.Failed, j.Cancelled, j.Attempt,
		string(cfg), j.Reason, j.ReasonCode, nanos(j.CreatedAt), nullNanos(j.StartedAt), nanos(j.UpdatedAt),
		nullNanos(j.FinishedAt), int64(j.ControlSeq), j.RequestDigest, string(usage), string(cols), string(mapping),
		int64(j.lastSeq), j.OrgID, nullNanos(j.ErasedAt), j.EraseReason, boolInt(j.LegalHold), j.LegalHoldReason,
		Lower(j.Config.Name)}, nil
}

func insertJob(ctx context.Context, tx *sqldb.Tx, t Tables, j *jobEntry) error {
	args, err := jobArgs(j)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+t.Name("jobs")+` (`+jobCols+`) VALUES (`+placeholders(len(args))+`)`, args...)
	return err
}

func updateJob(ctx context.Context, tx *sqldb.Tx, t Tables, j *jobEntry) error {
	args, err := jobArgs(j)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE `+t.Name("jobs")+` SET owner_id = ?, owner_email = ?, status = ?, total = ?,
		processed = ?, failed = ?, cancelled = ?, attempt = ?, config = ?, reason = ?, reason_code = ?, created = ?,
		started = ?, updated = ?, finished = ?, control_seq = ?, request_digest = ?, usage = ?, columns = ?,
		column_mapping = ?, last_seq = ?, org_id = ?, erased_at = ?, erase_reason = ?, legal_hold = ?,
		legal_hold_reason = ?, name_lc = ? WHERE job_id = ?`, append(args[1:], args[0])...)
	return err
}

func updateJobSeq(ctx context.Context, tx *sqldb.Tx, t Tables, j *jobEntry) error {
	_, err := tx.Exec(ctx, `UPDATE `+t.Name("jobs")+` SET last_seq = ?, updated = ? WHERE job_id = ?`,
		int64(j.lastSeq), nanos(j.UpdatedAt), j.ID)
	return err
}

type rowScanner interface{ Scan(dest ...any) error }

func scanJob(s rowScanner) (*jobEntry, error) {
	var (
		j                                     jobEntry
		cfg, usage, cols, mapping             string
		created, updated, controlSeq, lastSeq int64
		started, finished, erased             sql.NullInt64
		hold                                  int
		nameLC                                string // Config.Name, case-folded: for queries only
	)
	if err := s.Scan(&j.ID, &j.OwnerID, &j.OwnerEmail, &j.Status, &j.Total, &j.Processed, &j.Failed, &j.Cancelled,
		&j.Attempt, &cfg, &j.Reason, &j.ReasonCode, &created, &started, &updated, &finished, &controlSeq,
		&j.RequestDigest, &usage, &cols, &mapping, &lastSeq, &j.OrgID, &erased, &j.EraseReason, &hold,
		&j.LegalHoldReason, &nameLC); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cfg), &j.Config); err != nil {
		return nil, fmt.Errorf("job %s config: %w", j.ID, err)
	}
	if err := json.Unmarshal([]byte(usage), &j.Usage); err != nil {
		return nil, fmt.Errorf("job %s usage: %w", j.ID, err)
	}
	_ = json.Unmarshal([]byte(cols), &j.Columns)
	_ = json.Unmarshal([]byte(mapping), &j.ColumnMapping)
	j.CreatedAt, j.UpdatedAt = fromNanos(created), fromNanos(updated)
	if started.Valid {
		ts := fromNanos(started.Int64)
		j.StartedAt = &ts
	}
	if finished.Valid {
		ts := fromNanos(finished.Int64)
		j.FinishedAt = &ts
	}
	if erased.Valid {
		ts := fromNanos(erased.Int64)
		j.Erased, j.ErasedAt = true, &ts
	}
	j.LegalHold = hold != 0
	j.ControlSeq, j.lastSeq = uint64(controlSeq), uint64(lastSeq)
	return &j, nil
}

func loadJob(ctx context.Context, tx *sqldb.Tx, t Tables, id string) (*jobEntry, error) {
	j, err := scanJob(tx.QueryRow(ctx, `SELECT `+jobCols+` FROM `+t.Name("jobs")+` WHERE job_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return j, err
}

// JobQueries answers job queries from the serving job-status tables.
type JobQueries struct{ rd ReadDB }

// NewJobQueries reads through rd (the runner).
func NewJobQueries(rd ReadDB) *JobQueries { return &JobQueries{rd: rd} }

func (q *JobQueries) tables() Tables { return q.rd.Tables(JobStatusName) }

// Get returns one job.
func (q *JobQueries) Get(ctx context.Context, id string) (Job, bool, error) {
	j, err := scanJob(q.rd.DB().QueryRow(ctx, `SELECT `+q.readCols()+` FROM `+q.tables().Name("jobs")+` WHERE job_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, readErr(err)
	}
	return j.Job, true, nil
}

// DocStatuses returns each document's status and attempt, by row.
func (q *JobQueries) DocStatuses(ctx context.Context, id string) ([]DocState, error) {
	rows, err := q.rd.DB().Query(ctx, `SELECT status, attempt, outcome FROM `+q.tables().Name("docs")+
		` WHERE job_id = ? ORDER BY row_no`, id)
	if err != nil {
		return nil, readErr(err)
	}
	defer rows.Close()
	var out []DocState
	for rows.Next() {
		var d DocState
		var o int
		if err := rows.Scan(&d.Status, &d.Attempt, &o); err != nil {
			return nil, readErr(err)
		}
		d.Outcome = o != 0
		out = append(out, d)
	}
	return out, readErr(rows.Err())
}

// ErrReadDB wraps every failure of a read-database query: the API turns it
// into 503, never 500.
var ErrReadDB = errors.New("read database unavailable")

func readErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %v", ErrReadDB, err)
}
