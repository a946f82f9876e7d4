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

var _ BatchApplier = (*DocumentSearch)(nil)

// ApplyBatch implements BatchApplier: the document events of a batch step
// each job row and document row once in memory; the batch then writes the
// rows back, the outcomes, the tags and the full-text index in multi-row
// statements. A job started in the batch has its rows made in memory from
// the chunks the batch holds and inserted once, with what the batch's
// later events did to them; pauses, resumes and completions step the job
// row. Cancels, failures, retries, erasures and any other event go
// through Apply.
func (m *DocumentSearch) ApplyBatch(ctx context.Context, tx *sqldb.Tx, t Tables, evs []events.Envelope) error {
	w := &searchBatch{batchRows: newBatchRows(ctx, tx, t, evs)}
	return applyWriteBehind(w, evs, func(env events.Envelope) error { return m.Apply(ctx, tx, t, env) })
}

// searchBatch is a batch's document-search rows.
type searchBatch struct {
	batchRows

	jobs     map[string]*searchJob // nil: no such job
	docs     rowCache[searchDoc]
	outcomes [][]any // in event order: the first of an attempt wins
	inputs   heldInputs
	nextID   int64 // the id of the next document a start makes; 0: not read yet
}

// searchJob is a jobs row.
type searchJob struct {
	owner, org, email, status string
	attempt, total            int
	created, updated          int64
	finished                  sql.NullInt64
	dirty                     bool
}

// searchNewDoc is what a documents row made in the batch has beyond
// searchDoc: the columns only its insert writes.
type searchNewDoc struct {
	email, file, source string
}

// searchDoc is a documents row but its file and source columns, which
// events after the start do not change.
type searchDoc struct {
	job                              string
	row                              int
	id                               int64
	owner, org, title, descr, extra  string
	status                           string
	attempt                          int
	outcome                          bool
	tags, errText, errCode           string
	model, method                    string
	prompt, completion, total, calls int64
	cost                             float64
	duration, cachedFrom             int64
	created, updated                 int64
	finished                         sql.NullInt64
	tagList                          []string
	owner2, org2                     string // the job's, for the tags rows
	dirty, retag                     bool
	made                             *searchNewDoc // made by a start in the batch, not written yet
}

func (w *searchBatch) reset() {
	w.jobs, w.docs, w.outcomes, w.nextID = map[string]*searchJob{}, newRowCache[searchDoc](), nil, 0
	w.inputs = newHeldInputs(inputsRule{table: w.t.Name("inputs"), column: "docs"})
}

func (w *searchBatch) apply(env events.Envelope) (bool, error) {
	switch env.Type {
	case events.TypeWebhookAttempted:
		return true, nil
	case events.TypeDocumentsSubmitted:
		return true, w.inputs.hold(env)
	case events.TypeJobStarted, events.TypeDocumentStarted, events.TypeDocumentTagged, events.TypeDocumentFailed,
		events.TypeDocumentReleased, events.TypeJobPaused, events.TypeJobResumed, events.TypeJobCompleted:
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
		return true, w.start(env, s)
	}
	if j == nil {
		return true, nil
	}
	at := env.Time.UnixNano()
	switch e := ev.(type) {
	case *events.JobPaused:
		j.control(events.StatusPaused, at)
	case *events.JobResumed:
		j.control(events.StatusProcessing, at)
	case *events.JobCompleted:
		j.control(completedStatus(*e), at)
	case *events.DocumentStarted:
		return true, w.doc(j, env, at, e.Row, e.Attempt, nil)
	case *events.DocumentReleased:
		return true, w.doc(j, env, at, e.Row, e.Attempt, nil)
	case *events.DocumentTagged:
		w.outcome(env, j, e.Row, e.Attempt, true, "", "", e.Metadata)
		return true, w.doc(j, env, at, e.Row, e.Attempt, func(d *searchDoc) error {
			return d.setOutcome(e.Metadata, e.Tags, "", "", j)
		})
	case *events.DocumentFailed:
		w.outcome(env, j, e.Row, e.Attempt, false, e.Code, e.Error, e.Metadata)
		return true, w.doc(j, env, at, e.Row, e.Attempt, func(d *searchDoc) error {
			return d.setOutcome(e.Metadata, nil, e.Error, e.Code, &searchJob{})
		})
	}
	return true, nil
}

// start is applier.started on the batch's rows: the job row and its
// documents' rows, ids in the order of starts, written at the flush.
func (w *searchBatch) start(env events.Envelope, s *events.JobStarted) error {
	docs, err := w.inputs.claim(w.ctx, w.tx, env.JobID, s.InputID, s.Total)
	if err != nil {
		return err
	}
	if w.nextID == 0 {
		var last int64
		if err := w.tx.QueryRow(w.ctx, `SELECT COALESCE(MAX(id), 0) FROM `+w.t.Name("documents")).Scan(&last); err != nil {
			return err
		}
		w.nextID = last + 1
	}
	at := env.Time.UnixNano()
	j := &searchJob{owner: env.Actor.ID, org: s.OrgID, email: env.Actor.Email, status: events.StatusPending, attempt: 1,
		total: s.Total, created: at, updated: at, dirty: true}
	w.jobs[env.JobID] = j
	rows := make(map[int]*searchDoc, len(docs))
	for i, d := range docs {
		extra, err := extraColumn(d)
		if err != nil {
			return err
		}
		rows[i] = &searchDoc{job: env.JobID, row: i, id: w.nextID, owner: j.owner, org: j.org, title: d.Title,
			descr: d.Description, extra: extra, status: DocPending, attempt: 1, tags: "[]", created: at, updated: at,
			dirty: true, made: &searchNewDoc{email: j.email, file: d.FilePath, source: d.SourceType}}
		w.nextID++
	}
	w.docs.made(env.JobID, rows)
	return nil
}

// control is applier.control on the job row.
func (j *searchJob) control(status string, at int64) {
	j.status, j.updated, j.finished, j.dirty = status, at, sql.NullInt64{}, true
	if events.Terminal(status) {
		j.finished = sql.NullInt64{Int64: at, Valid: true}
	}
}

// setOutcome is applier.metadata, setTags and reindex on the row.
func (d *searchDoc) setOutcome(md events.TagMetadata, tags []string, errText, code string, j *searchJob) error {
	tagsJSON := []byte("[]")
	if tags != nil {
		var err error
		if tagsJSON, err = json.Marshal(tags); err != nil {
			return err
		}
	}
	d.tags, d.errText, d.errCode, d.model, d.method = string(tagsJSON), errText, code, md.Model, md.Method
	d.prompt, d.completion, d.total, d.calls = int64(md.PromptTokens), int64(md.CompletionTokens), int64(md.TotalTokens), int64(md.Calls)
	d.cost, d.duration, d.cachedFrom = md.CostUSD, md.DurationMS, int64(md.CachedFrom)
	d.tagList, d.owner2, d.org2, d.retag = tags, j.owner, j.org, true
	return nil
}

func (w *searchBatch) job(id string) (*searchJob, error) {
	if j, ok := w.jobs[id]; ok {
		return j, nil
	}
	j := &searchJob{}
	err := w.tx.QueryRow(w.ctx, `SELECT owner, org_id, owner_email, status, attempt, total, created_at, updated_at, finished_at FROM `+
		w.t.Name("jobs")+` WHERE job_id = ?`, id).
		Scan(&j.owner, &j.org, &j.email, &j.status, &j.attempt, &j.total, &j.created, &j.updated, &j.finished)
	if errors.Is(err, sql.ErrNoRows) {
		j, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	w.jobs[id] = j
	return j, nil
}

// doc is applier.doc on the batch's rows.
func (w *searchBatch) doc(j *searchJob, env events.Envelope, at int64, row, attempt int, fill func(*searchDoc) error) error {
	j.updated, j.dirty = at, true
	if attempt == j.attempt && j.status == "pending" {
		j.status = "processing"
	}
	d, err := w.row(env.JobID, row)
	if err != nil || d == nil {
		return err
	}
	next, changed := DocState{d.status, d.attempt, d.outcome}.onDocEvent(env.Type, attempt)
	if !changed {
		return nil
	}
	d.status, d.attempt, d.outcome, d.updated, d.dirty = next.Status, next.Attempt, next.Outcome, at, true
	if next.Outcome {
		d.finished = sql.NullInt64{Int64: at, Valid: true}
		if fill != nil {
			return fill(d)
		}
	}
	return nil
}

const searchDocCols = `id, owner, org_id, title, description, extra, status, attempt, outcome, tags, error, error_code, model,
	method, prompt_tokens, completion_tokens, total_tokens, calls, cost_usd, duration_ms, cached_from, created_at,
	updated_at, finished_at`

// row returns a documents row (nil: no such row).
func (w *searchBatch) row(job string, row int) (*searchDoc, error) {
	return w.docs.get(w.batchRows, job, row, `SELECT row_id, `+searchDocCols+` FROM `+w.t.Name("documents")+
		` WHERE job_id = ? AND row_id BETWEEN ? AND ?`, func(rows *sql.Rows) (int, *searchDoc, error) {
		var outcome int
		d := searchDoc{job: job}
		err := rows.Scan(&d.row, &d.id, &d.owner, &d.org, &d.title, &d.descr, &d.extra, &d.status, &d.attempt, &outcome,
			&d.tags, &d.errText, &d.errCode, &d.model, &d.method, &d.prompt, &d.completion, &d.total, &d.calls, &d.cost,
			&d.duration, &d.cachedFrom, &d.created, &d.updated, &d.finished)
		d.outcome = outcome == 1
		return d.row, &d, err
	})
}

// outcome is applier.outcome, kept for the flush.
func (w *searchBatch) outcome(env events.Envelope, j *searchJob, row, attempt int, ok bool, code, reason string, md events.TagMetadata) {
	w.outcomes = append(w.outcomes, outcomeArgs(env, jobRow{owner: j.owner, org: j.org}, row, attempt, ok, code, reason, md))
}

func (w *searchBatch) flush() error {
	if err := w.inputs.flush(w.ctx, w.tx); err != nil {
		return err
	}
	if err := w.flushJobs(); err != nil {
		return err
	}
	var docs []*searchDoc
	w.docs.each(func(d *searchDoc) bool { return d.dirty }, func(_ string, _ int, d *searchDoc) { docs = append(docs, d) })
	sort.Slice(docs, func(i, k int) bool { return docs[i].id < docs[k].id })
	if err := w.flushDocs(docs); err != nil {
		return err
	}
	if err := upsert(w.ctx, w.tx, `INSERT INTO `+w.t.Name("outcomes")+` (`+outcomeCols+`) VALUES `,
		"("+placeholders(19)+")", ` ON CONFLICT DO NOTHING`, w.outcomes, 100); err != nil {
		return err
	}
	w.outcomes = nil
	var retag []*searchDoc
	for _, d := range docs {
		if d.retag || d.made != nil {
			retag = append(retag, d)
		}
	}
	if err := w.flushIndex(retag); err != nil {
		return err
	}
	for _, d := range docs {
		d.dirty, d.retag, d.made = false, false, nil
	}
	return nil
}

func (w *searchBatch) flushJobs() error {
	var rows [][]any
	ids := make([]string, 0, len(w.jobs))
	for id, j := range w.jobs {
		if j != nil && j.dirty {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		j := w.jobs[id]
		rows = append(rows, []any{id, j.owner, j.org, j.email, j.status, j.attempt, j.total, j.created, j.updated, j.finished})
		j.dirty = false
	}
	// A job read keeps its other columns; one a start made is inserted.
	return upsert(w.ctx, w.tx, `INSERT INTO `+w.t.Name("jobs")+
		` (job_id, owner, org_id, owner_email, status, attempt, total, created_at, updated_at, finished_at) VALUES `,
		"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ` ON CONFLICT (job_id) DO UPDATE SET `+excluded("status", "updated_at", "finished_at"), rows, 100)
}

// flushDocs writes the rows back: those a start in the batch made with
// one plain insert of every column (applier.started's), the others with
// an upsert whose insert half never happens. On PostgreSQL a made row and
// a row an outcome retagged carry their tsv in the same statement: a
// separate UPDATE was one more round trip and one more version of every
// such row.
func (w *searchBatch) flushDocs(docs []*searchDoc) error {
	pg := w.tx.Dialect() == sqldb.Postgres
	var rows, retagged, made [][]any
	for _, d := range docs {
		row := []any{d.job, d.row, d.id, d.owner, d.org, d.title, d.descr, d.extra, d.status, d.attempt, b2i(d.outcome),
			d.tags, d.errText, d.errCode, d.model, d.method, d.prompt, d.completion, d.total, d.calls, d.cost, d.duration,
			d.cachedFrom, d.created, d.updated, d.finished}
		if d.made != nil {
			row = append(row, d.made.email, d.made.file, d.made.source)
		}
		if pg && (d.retag || d.made != nil) {
			keys, body, err := d.indexText()
			if err != nil {
				return err
			}
			row = append(row, keys, body)
		}
		switch {
		case d.made != nil:
			made = append(made, row)
		case pg && d.retag:
			retagged = append(retagged, row)
		default:
			rows = append(rows, row)
		}
	}
	head := `INSERT INTO ` + w.t.Name("documents") + ` (job_id, row_id, ` + searchDocCols
	set := ` ON CONFLICT (id) DO UPDATE SET ` + excluded("status", "attempt", "outcome",
		"tags", "error", "error_code", "model", "method", "prompt_tokens", "completion_tokens", "total_tokens", "calls",
		"cost_usd", "duration_ms", "cached_from", "updated_at", "finished_at")
	tuple := "(" + placeholders(26)
	tsv := `, setweight(to_tsvector('simple', ?::text), 'A') || to_tsvector('simple', ?::text)`
	madeCols, madeTuple := `, owner_email, file_path, source_type`, tuple+`, ?, ?, ?`
	if pg {
		madeCols, madeTuple = madeCols+`, tsv`, madeTuple+tsv
	}
	if err := upsert(w.ctx, w.tx, head+madeCols+`) VALUES `, madeTuple+")", "", made, 100); err != nil {
		return err
	}
	if err := upsert(w.ctx, w.tx, head+`) VALUES `, tuple+")", set, rows, 100); err != nil {
		return err
	}
	return upsert(w.ctx, w.tx, head+`, tsv) VALUES `, tuple+tsv+`)`, set+`, tsv = excluded.tsv`, retagged, 100)
}

// indexText is the row's full-text keys and body (index's).
func (d *searchDoc) indexText() (keys, body string, err error) {
	f := docFields{Owner: d.owner, OrgID: d.org, Title: d.title, Description: d.descr, Tags: d.tagList}
	if d.extra != "" {
		if err := json.Unmarshal([]byte(d.extra), &f.Extra); err != nil {
			return "", "", err
		}
	}
	return searchKeys(f.Owner, f.OrgID, f.Tags), searchBody(f), nil
}

// flushIndex rewrites the tags rows and SQLite's full-text entries of
// the documents whose outcome changed them (PostgreSQL's went with the
// rows, flushDocs). A generation being built leaves the tags rows and
// SQLite's full-text entries to FillIndex.
func (w *searchBatch) flushIndex(docs []*searchDoc) error {
	pg, later := w.tx.Dialect() == sqldb.Postgres, w.t.indexLater
	if later {
		return nil
	}
	for from := 0; from < len(docs); from += 200 {
		part := docs[from:min(from+200, len(docs))]
		var ids []any // of rows written before: a made one has no entries yet
		var tags, index [][]any
		for _, d := range part {
			if d.made == nil {
				ids = append(ids, d.id)
			}
			tags = appendTagRows(tags, d.id, d.owner2, d.org2, d.tagList)
			if pg {
				continue
			}
			keys, body, err := d.indexText()
			if err != nil {
				return err
			}
			index = append(index, []any{d.id, keys, body})
		}
		drop := func(table, col string) error {
			if len(ids) == 0 {
				return nil
			}
			_, err := w.tx.Exec(w.ctx, `DELETE FROM `+w.t.Name(table)+` WHERE `+col+` IN (`+placeholders(len(ids))+`)`, ids...)
			return err
		}
		if err := drop("tags", "doc_id"); err != nil {
			return err
		}
		if err := upsert(w.ctx, w.tx, `INSERT INTO `+w.t.Name("tags")+` (tag, doc_id, owner, org_id, label) VALUES `,
			"(?, ?, ?, ?, ?)", "", tags, 200); err != nil {
			return err
		}
		if pg {
			continue
		}
		if err := drop("fts", "rowid"); err != nil {
			return err
		}
		if err := upsert(w.ctx, w.tx, `INSERT INTO `+w.t.Name("fts")+` (rowid, keys, body) VALUES `, "(?, ?, ?)", "", index, 200); err != nil {
			return err
		}
	}
	return nil
}

// appendTagRows appends a document's tags rows (setTags's): one per
// distinct non-blank tag, lower-cased, with the tag as first written.
func appendTagRows(rows [][]any, id int64, owner, org string, tags []string) [][]any {
	seen := map[string]bool{}
	for _, tag := range tags {
		key := normTag(tag)
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		rows = append(rows, []any{key, id, owner, org, tag})
	}
	return rows
}

// LateIndexes implements lateIndexer: only the search queries read
// through these (the batches find rows by id and job; the tags rows by
// their primary key, doc_id first). The full-text GIN index exists on
// PostgreSQL only.
func (*DocumentSearch) LateIndexes(t Tables) []string {
	d := t.Name("documents")
	return []string{d + "_owner", d + "_org", d + "_tsv", t.Name("jobs") + "_owner", t.Name("jobs") + "_created",
		t.Name("jobs") + "_org", t.Name("outcomes") + "_owner", t.Name("outcomes") + "_org"}
}
