package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

var _ BatchApplier = ResultsModel{}

// ApplyBatch implements BatchApplier: each job's last_seq and each result
// row a batch touches is read once and written once (a job started in
// the batch has its rows inserted once, at the flush). Submitted chunks
// are written as Apply writes them; job ends, retries and any other event
// go through Apply.
func (m ResultsModel) ApplyBatch(ctx context.Context, tx *sqldb.Tx, t Tables, evs []events.Envelope) error {
	w := &resultsBatch{batchRows: newBatchRows(ctx, tx, t, evs)}
	return applyWriteBehind(w, evs, func(env events.Envelope) error { return m.Apply(ctx, tx, t, env) })
}

// resultsBatch is a batch's document-results rows.
type resultsBatch struct {
	batchRows

	jobs   map[string]*batchResJob // nil: no such job
	rows   rowCache[batchResult]
	inputs heldInputs
}

type batchResJob struct {
	total   int
	lastSeq int64
	dirty   bool
}

// batchResult is a result row's columns as stored; document only while
// the row is new (an update leaves it alone).
type batchResult struct {
	document  string
	status    string
	attempts  int
	outcome   bool
	tags, err string
	code      string
	metadata  sql.NullString
	seq       int64
	dirty     bool
}

func (w *resultsBatch) reset() {
	w.jobs, w.rows = map[string]*batchResJob{}, newRowCache[batchResult]()
	w.inputs = newHeldInputs(inputsRule{table: w.t.Name("inputs"), column: "documents", replace: true})
}

func (w *resultsBatch) apply(env events.Envelope) (bool, error) {
	switch env.Type {
	case events.TypeDocumentsSubmitted:
		return true, w.inputs.hold(env)
	case events.TypeJobStarted, events.TypeDocumentStarted, events.TypeDocumentTagged, events.TypeDocumentFailed,
		events.TypeDocumentReleased, events.TypeJobPaused, events.TypeJobResumed, events.TypeJobCompleted,
		events.TypeWebhookAttempted:
	default:
		return false, nil
	}
	ev, err := env.Decode()
	if err != nil {
		return true, err
	}
	j, err := w.job(env.JobID)
	if err != nil {
		return true, err
	}
	if s, ok := ev.(*events.JobStarted); ok {
		if j != nil {
			return true, nil
		}
		// The job's rows are written once, at the flush, with what the
		// batch's later events did to them.
		docs, err := w.claim(env, s)
		if err != nil {
			return true, err
		}
		rows := make(map[int]*batchResult, len(docs))
		for i, d := range docs {
			doc, err := json.Marshal(d)
			if err != nil {
				return true, err
			}
			rows[i] = &batchResult{document: string(doc), status: DocPending, attempts: 1, tags: "null", dirty: true}
		}
		w.jobs[env.JobID] = &batchResJob{total: s.Total, lastSeq: int64(env.Seq)}
		w.rows.made(env.JobID, rows)
		return true, nil
	}
	if j == nil || (env.Seq != 0 && env.Seq <= uint64(j.lastSeq)) {
		return true, nil
	}
	j.lastSeq, j.dirty = int64(env.Seq), true
	switch e := ev.(type) {
	case *events.DocumentStarted:
		return true, w.docEvent(j, env, e.Row, e.Attempt, func(*batchResult) error { return nil })
	case *events.DocumentReleased:
		return true, w.docEvent(j, env, e.Row, e.Attempt, func(*batchResult) error { return nil })
	case *events.DocumentTagged:
		return true, w.docEvent(j, env, e.Row, e.Attempt, func(r *batchResult) error {
			tags, _ := json.Marshal(e.Tags)
			r.tags, r.err, r.code = string(tags), "", ""
			return r.setMetadata(e.Metadata)
		})
	case *events.DocumentFailed:
		return true, w.docEvent(j, env, e.Row, e.Attempt, func(r *batchResult) error {
			r.tags, r.err, r.code = "null", e.Error, e.Code
			return r.setMetadata(e.Metadata)
		})
	}
	return true, nil
}

// claim is claimDocs over the written chunks and the held ones together.
func (w *resultsBatch) claim(env events.Envelope, s *events.JobStarted) ([]events.Document, error) {
	if !w.inputs.holds(env.JobID) {
		return claimDocs(w.ctx, w.tx, w.t, env, s)
	}
	if _, err := w.tx.Exec(w.ctx, `INSERT INTO `+w.t.Name("jobs")+` (job_id, total, last_seq) VALUES (?, ?, ?)`,
		env.JobID, s.Total, int64(env.Seq)); err != nil {
		return nil, err
	}
	return w.inputs.claim(w.ctx, w.tx, env.JobID, s.InputID, s.Total)
}

func (r *batchResult) setMetadata(md events.TagMetadata) error {
	b, err := json.Marshal(&md)
	if err != nil {
		return err
	}
	r.metadata = sql.NullString{String: string(b), Valid: true}
	return nil
}

func (w *resultsBatch) job(id string) (*batchResJob, error) {
	if j, ok := w.jobs[id]; ok {
		return j, nil
	}
	j := &batchResJob{}
	err := w.tx.QueryRow(w.ctx, `SELECT total, last_seq FROM `+w.t.Name("jobs")+` WHERE job_id = ?`, id).Scan(&j.total, &j.lastSeq)
	if errors.Is(err, sql.ErrNoRows) {
		j, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	w.jobs[id] = j
	return j, nil
}

// docEvent is sqlRows.docEvent on the batch's rows.
func (w *resultsBatch) docEvent(j *batchResJob, env events.Envelope, row, attempt int, fill func(*batchResult) error) error {
	if row < 0 || row >= j.total {
		return nil
	}
	r, err := w.row(env.JobID, row)
	if err != nil || r == nil {
		return err
	}
	next, changed := DocState{r.status, r.attempts, r.outcome}.onDocEvent(env.Type, attempt)
	if !changed {
		return nil
	}
	r.status, r.attempts, r.outcome = next.Status, next.Attempt, next.Outcome
	r.seq, r.dirty = int64(env.Seq), true
	return fill(r)
}

// row returns a result row (nil: no such row).
func (w *resultsBatch) row(job string, row int) (*batchResult, error) {
	return w.rows.get(w.batchRows, job, row, `SELECT row_no, status, attempts, outcome, tags, error, code, metadata, seq FROM `+
		w.t.Name("rows")+` WHERE job_id = ? AND row_no BETWEEN ? AND ?`, func(rows *sql.Rows) (int, *batchResult, error) {
		var n, outcome int
		var r batchResult
		err := rows.Scan(&n, &r.status, &r.attempts, &outcome, &r.tags, &r.err, &r.code, &r.metadata, &r.seq)
		r.outcome = outcome != 0
		return n, &r, err
	})
}

func (w *resultsBatch) flush() error {
	if err := w.inputs.flush(w.ctx, w.tx); err != nil {
		return err
	}
	ids := make([]string, 0, len(w.jobs))
	for id, j := range w.jobs {
		if j != nil && j.dirty {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	jobRows := make([][]any, 0, len(ids))
	for _, id := range ids {
		j := w.jobs[id]
		jobRows = append(jobRows, []any{id, j.total, j.lastSeq})
		j.dirty = false
	}
	// The jobs' rows exist (read or claimed): the insert half never
	// happens. A result row is inserted once, after its job's start.
	if err := upsert(w.ctx, w.tx, `INSERT INTO `+w.t.Name("jobs")+` (job_id, total, last_seq) VALUES `, "(?, ?, ?)",
		` ON CONFLICT (job_id) DO UPDATE SET `+excluded("last_seq"), jobRows, 200); err != nil {
		return err
	}
	var out [][]any
	w.rows.each(func(r *batchResult) bool { return r.dirty }, func(job string, n int, r *batchResult) {
		out = append(out, []any{job, n, r.document, r.status, r.attempts, boolInt(r.outcome), r.tags, r.err, r.code, r.metadata, r.seq})
		r.dirty, r.document = false, ""
	})
	return upsert(w.ctx, w.tx, `INSERT INTO `+w.t.Name("rows")+
		` (job_id, row_no, document, status, attempts, outcome, tags, error, code, metadata, seq) VALUES `,
		"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ` ON CONFLICT (job_id, row_no) DO UPDATE SET `+
			excluded("status", "attempts", "outcome", "tags", "error", "code", "metadata", "seq"), out, 200)
}
