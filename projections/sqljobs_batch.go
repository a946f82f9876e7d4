package projections

import (
	"context"
	"database/sql"
	"sort"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

var _ BatchApplier = JobStatusModel{}

// ApplyBatch implements BatchApplier: each job row and each document row a
// batch touches is read once and written once. Job ends, retries and any
// other event go through Apply.
func (m JobStatusModel) ApplyBatch(ctx context.Context, tx *sqldb.Tx, t Tables, evs []events.Envelope) error {
	w := &jobsBatch{batchRows: newBatchRows(ctx, tx, t, evs)}
	return applyWriteBehind(w, evs, func(env events.Envelope) error { return m.Apply(ctx, tx, t, env) })
}

// jobsBatch is a batch's job-status rows.
type jobsBatch struct {
	batchRows

	jobs  map[string]*jobEntry // nil: no such job
	dirty map[string]bool
	docs  rowCache[batchDoc]
}

type batchDoc struct {
	DocState
	dirty bool
}

func (w *jobsBatch) reset() {
	w.jobs, w.dirty = map[string]*jobEntry{}, map[string]bool{}
	w.docs = newRowCache[batchDoc]()
}

func (w *jobsBatch) apply(env events.Envelope) (bool, error) {
	switch env.Type {
	case events.TypeDocumentsSubmitted, events.TypeWebhookAttempted:
		return true, nil // Apply ignores them too
	case events.TypeJobStarted, events.TypeDocumentStarted, events.TypeDocumentTagged, events.TypeDocumentFailed,
		events.TypeDocumentReleased, events.TypeJobPaused, events.TypeJobResumed, events.TypeJobCompleted:
	default:
		return false, nil
	}
	ev, err := env.Decode()
	if err != nil {
		return true, err
	}
	if s, ok := ev.(*events.JobStarted); ok {
		if j, err := w.job(env.JobID); err != nil || j != nil {
			return true, err
		}
		e := newJobEntry(env, s)
		docs := make(map[int]*batchDoc, len(e.docs))
		for i, d := range e.docs {
			docs[i] = &batchDoc{DocState: d, dirty: true}
		}
		e.docs = nil
		w.jobs[env.JobID], w.dirty[env.JobID] = e, true
		w.docs.made(env.JobID, docs)
		return true, nil
	}
	j, err := w.job(env.JobID)
	if err != nil || j == nil {
		return true, err
	}
	if env.Seq != 0 {
		if env.Seq <= j.lastSeq {
			return true, nil
		}
		j.lastSeq = env.Seq
	}
	j.UpdatedAt = env.Time
	w.dirty[j.ID] = true
	switch e := ev.(type) {
	case *events.DocumentStarted:
		err = w.docEvent(j, env, e.Row, e.Attempt)
		if j.StartedAt == nil {
			ts := env.Time
			j.StartedAt = &ts
		}
	case *events.DocumentTagged:
		j.Usage.add(e.Metadata)
		err = w.docEvent(j, env, e.Row, e.Attempt)
	case *events.DocumentFailed:
		j.Usage.add(e.Metadata)
		err = w.docEvent(j, env, e.Row, e.Attempt)
	case *events.DocumentReleased:
		err = w.docEvent(j, env, e.Row, e.Attempt)
	default:
		j.controlled(env, ev)
	}
	return true, err
}

func (w *jobsBatch) job(id string) (*jobEntry, error) {
	if j, ok := w.jobs[id]; ok {
		return j, nil
	}
	j, err := loadJob(w.ctx, w.tx, w.t, id)
	if err != nil {
		return nil, err
	}
	w.jobs[id] = j
	return j, nil
}

// docEvent is sqlDocs.docEvent on the batch's rows.
func (w *jobsBatch) docEvent(j *jobEntry, env events.Envelope, row, attempt int) error {
	if attempt == j.Attempt && j.Status == events.StatusPending {
		j.Status = events.StatusProcessing
	}
	if row < 0 || row >= j.Total {
		return nil
	}
	d, err := w.doc(j.ID, row)
	if err != nil || d == nil {
		return err
	}
	next, changed := d.onDocEvent(env.Type, attempt)
	if !changed {
		return nil
	}
	c := counts{j.Processed, j.Failed, j.Cancelled}
	c.move(d.Status, next.Status)
	j.Processed, j.Failed, j.Cancelled = c.Processed, c.Failed, c.Cancelled
	d.DocState, d.dirty = next, true
	return nil
}

// doc returns a document row (nil: no such row).
func (w *jobsBatch) doc(job string, row int) (*batchDoc, error) {
	return w.docs.get(w.batchRows, job, row, `SELECT row_no, status, attempt, outcome FROM `+w.t.Name("docs")+
		` WHERE job_id = ? AND row_no BETWEEN ? AND ?`, func(rows *sql.Rows) (int, *batchDoc, error) {
		var n, outcome int
		var d batchDoc
		err := rows.Scan(&n, &d.Status, &d.Attempt, &outcome)
		d.Outcome = outcome != 0
		return n, &d, err
	})
}

func (w *jobsBatch) flush() error {
	ids := make([]string, 0, len(w.dirty))
	for id := range w.dirty {
		if w.jobs[id] != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	jobRows := make([][]any, 0, len(ids))
	for _, id := range ids {
		args, err := jobArgs(w.jobs[id])
		if err != nil {
			return err
		}
		jobRows = append(jobRows, args)
	}
	cols := strings.Fields(strings.ReplaceAll(jobCols, ",", " "))
	tuple := "(" + placeholders(len(cols)) + ")"
	if err := upsert(w.ctx, w.tx, `INSERT INTO `+w.t.Name("jobs")+` (`+jobCols+`) VALUES `, tuple,
		` ON CONFLICT (job_id) DO UPDATE SET `+excluded(cols[1:]...), jobRows, 50); err != nil {
		return err
	}
	w.dirty = map[string]bool{}
	var docRows [][]any
	w.docs.each(func(d *batchDoc) bool { return d.dirty }, func(job string, row int, d *batchDoc) {
		docRows = append(docRows, []any{job, row, d.Status, d.Attempt, boolInt(d.Outcome)})
		d.dirty = false
	})
	return upsert(w.ctx, w.tx, `INSERT INTO `+w.t.Name("docs")+` (job_id, row_no, status, attempt, outcome) VALUES `,
		"(?, ?, ?, ?, ?)", ` ON CONFLICT (job_id, row_no) DO UPDATE SET `+excluded("status", "attempt", "outcome"), docRows, 400)
}

// Ignores implements ignorer: Apply returns before decoding these.
func (JobStatusModel) Ignores(eventType string) bool {
	return eventType == events.TypeDocumentsSubmitted || eventType == events.TypeWebhookAttempted
}

// LateIndexes implements lateIndexer: the job lists read through these;
// Apply finds jobs by id.
func (JobStatusModel) LateIndexes(t Tables) []string {
	return []string{t.Name("jobs_org"), t.Name("jobs_owner"), t.Name("jobs_status")}
}
