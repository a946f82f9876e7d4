package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// DocumentSearchName is the document-search model's name.
const DocumentSearchName = "document-search"

// DocumentSearch is the SQL read model behind GET /api/documents, the
// history statistics and the analytics summary: one row per document
// with full-text search over its words (SQLite FTS5, PostgreSQL
// tsvector), the jobs it belongs to, and one row per document outcome.
//
// Tables (through Tables, so a rebuild can write another generation):
//   - documents: one row per document; id orders them (a job's rows get
//     consecutive ids when it starts), so it is the keyset of every page.
//   - fts (SQLite only): the FTS5 index, rowid = documents.id, without a
//     copy of its text (contentless: the documents rows hold it, and
//     searches read only rowids); PostgreSQL keeps the same words and
//     keys in documents.tsv.
//   - tags: (doc id, tag lower-cased) with the tag as written, the
//     owner and the organisation, for the top-tags statistic; keyed by
//     document first, so rows are written in id order and replaced by
//     doc id without a second index.
//   - inputs: submitted chunks until the JobStarted that claims them.
//   - jobs: one row per job, for the history statistics.
//   - outcomes: the first outcome of every document attempt, for analytics.
//
// Every row that a read scopes (documents, tags, jobs, outcomes) carries
// its job's owner and org_id (empty outside organisations, from
// JobStarted.OrgID), so a Scope is a WHERE clause, never a filter after
// the page is read.
type DocumentSearch struct{}

var _ SQLModel = (*DocumentSearch)(nil)

// NewDocumentSearch returns the model.
func NewDocumentSearch() *DocumentSearch { return &DocumentSearch{} }

// Name implements SQLModel.
func (*DocumentSearch) Name() string { return DocumentSearchName }

// Version implements SQLModel.
// 2: org_id on every scoped row, the organisation's key in the index.
// 3: a contentless FTS5 table; tags keyed (doc_id, tag), WITHOUT ROWID
// on SQLite: a rebuild's index fill writes one b-tree a tags row instead
// of three, and no copy of the text; on SQLite documents.id is the rowid.
// 4: submitted chunks kept by job (by input id alone, jobs started at once
// from the same documents took or deleted each other's).
func (*DocumentSearch) Version() int { return 4 }

// Create implements SQLModel.
func (*DocumentSearch) Create(ctx context.Context, tx *sqldb.Tx, t Tables) error {
	pg := tx.Dialect() == sqldb.Postgres
	// On SQLite an INTEGER PRIMARY KEY is the rowid itself: the documents
	// rows are one b-tree keyed by id, not a table and an index on id.
	real, tsv, rowless, id := "REAL", "", " WITHOUT ROWID", "INTEGER"
	if pg {
		real, tsv, rowless, id = "DOUBLE PRECISION", ", tsv tsvector NOT NULL DEFAULT ''::tsvector", "", "BIGINT"
	}
	d := t.Name("documents")
	stmts := []string{
		`CREATE TABLE ` + d + ` (
			id ` + id + ` PRIMARY KEY, job_id TEXT NOT NULL, row_id INTEGER NOT NULL,
			owner TEXT NOT NULL, org_id TEXT NOT NULL DEFAULT '', owner_email TEXT NOT NULL DEFAULT '',
			title TEXT NOT NULL DEFAULT '', file_path TEXT NOT NULL DEFAULT '', source_type TEXT NOT NULL DEFAULT '',
			description TEXT NOT NULL DEFAULT '', extra TEXT NOT NULL DEFAULT '',
			status TEXT NOT NULL, attempt INTEGER NOT NULL, outcome INTEGER NOT NULL DEFAULT 0,
			tags TEXT NOT NULL DEFAULT '[]', error TEXT NOT NULL DEFAULT '', error_code TEXT NOT NULL DEFAULT '',
			model TEXT NOT NULL DEFAULT '', method TEXT NOT NULL DEFAULT '',
			prompt_tokens BIGINT NOT NULL DEFAULT 0, completion_tokens BIGINT NOT NULL DEFAULT 0,
			total_tokens BIGINT NOT NULL DEFAULT 0, calls BIGINT NOT NULL DEFAULT 0,
			cost_usd ` + real + ` NOT NULL DEFAULT 0, duration_ms BIGINT NOT NULL DEFAULT 0, cached_from BIGINT NOT NULL DEFAULT 0,
			created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, finished_at BIGINT` + tsv + `,
			UNIQUE (job_id, row_id))`,
		`CREATE INDEX ` + d + `_owner ON ` + d + ` (owner, id)`,
		`CREATE INDEX ` + d + `_org ON ` + d + ` (org_id, id)`,
		`CREATE TABLE ` + t.Name("tags") + ` (tag TEXT NOT NULL, doc_id BIGINT NOT NULL, owner TEXT NOT NULL,
			org_id TEXT NOT NULL DEFAULT '', label TEXT NOT NULL, PRIMARY KEY (doc_id, tag))` + rowless,
		`CREATE TABLE ` + t.Name("inputs") + ` (input_id TEXT NOT NULL, chunk INTEGER NOT NULL, job_id TEXT NOT NULL,
			docs TEXT NOT NULL, PRIMARY KEY (job_id, input_id, chunk))`,
		`CREATE TABLE ` + t.Name("jobs") + ` (job_id TEXT PRIMARY KEY, owner TEXT NOT NULL, org_id TEXT NOT NULL DEFAULT '',
			owner_email TEXT NOT NULL DEFAULT '',
			status TEXT NOT NULL, attempt INTEGER NOT NULL, total INTEGER NOT NULL,
			created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, finished_at BIGINT)`,
		`CREATE INDEX ` + t.Name("jobs") + `_owner ON ` + t.Name("jobs") + ` (owner, created_at)`,
		`CREATE INDEX ` + t.Name("jobs") + `_created ON ` + t.Name("jobs") + ` (created_at)`,
		`CREATE INDEX ` + t.Name("jobs") + `_org ON ` + t.Name("jobs") + ` (org_id, created_at)`,
		`CREATE TABLE ` + t.Name("outcomes") + ` (job_id TEXT NOT NULL, row_id INTEGER NOT NULL, attempt INTEGER NOT NULL,
			owner TEXT NOT NULL, org_id TEXT NOT NULL DEFAULT '', day TEXT NOT NULL, model TEXT NOT NULL, ok INTEGER NOT NULL,
			code TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
			duration_ms BIGINT NOT NULL, dur_bucket INTEGER NOT NULL, total_tokens BIGINT NOT NULL, tok_bucket INTEGER,
			calls BIGINT NOT NULL, prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL,
			cost_usd ` + real + ` NOT NULL, cached INTEGER NOT NULL,
			PRIMARY KEY (job_id, row_id, attempt))`,
		`CREATE INDEX ` + t.Name("outcomes") + `_owner ON ` + t.Name("outcomes") + ` (owner)`,
		`CREATE INDEX ` + t.Name("outcomes") + `_org ON ` + t.Name("outcomes") + ` (org_id)`,
	}
	if pg {
		stmts = append(stmts, `CREATE INDEX `+d+`_tsv ON `+d+` USING GIN (tsv)`)
	} else {
		// The words are split by searchWords before they get here; the
		// tokenizer only has to keep them whole, marks included (M*), and
		// leave accents alone as PostgreSQL's 'simple' configuration does.
		// keys holds the owner's, the organisation's and the tags' tokens
		// (see ownerToken). Contentless: FTS5 keeps no copy of the text,
		// which the documents rows hold; contentless_delete lets a row be
		// deleted (replaced, erased) by rowid alone.
		stmts = append(stmts, `CREATE VIRTUAL TABLE `+t.Name("fts")+
			` USING fts5(keys, body, content = '', contentless_delete = 1,`+
			` tokenize = "unicode61 remove_diacritics 0 categories 'L* N* Co M*'")`)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// docFields are the indexed fields of one document.
type docFields struct {
	Owner, OrgID       string
	Title, Description string
	Tags               []string
	Extra              map[string]any
}

// Apply implements SQLModel.
func (m *DocumentSearch) Apply(ctx context.Context, tx *sqldb.Tx, t Tables, env events.Envelope) error {
	switch env.Type {
	case events.TypeWebhookAttempted:
		return nil
	}
	ev, err := env.Decode()
	if err != nil {
		if events.IsUnknown(err) {
			return nil // a newer release's event: the runner counts the skip
		}
		return err
	}
	a := applier{ctx: ctx, tx: tx, t: t, env: env, at: env.Time.UnixNano()}
	if env.Type == events.TypeJobErased {
		return a.scrubSearch() // erase_scrub.go
	}
	switch e := ev.(type) {
	case *events.DocumentsSubmitted:
		return a.submitted(e)
	case *events.JobStarted:
		return a.started(e)
	}
	jb, ok, err := a.job()
	if err != nil || !ok {
		return err // events of a job whose start never committed
	}
	attempt := jb.attempt
	switch e := ev.(type) {
	case *events.DocumentStarted:
		return a.doc(attempt, e.Row, e.Attempt, nil)
	case *events.DocumentReleased:
		return a.doc(attempt, e.Row, e.Attempt, nil)
	case *events.DocumentTagged:
		if err := a.outcome(jb, e.Row, e.Attempt, true, "", "", e.Metadata); err != nil {
			return err
		}
		return a.doc(attempt, e.Row, e.Attempt, func(id int64) error { return a.tagged(id, jb, e) })
	case *events.DocumentFailed:
		if err := a.outcome(jb, e.Row, e.Attempt, false, e.Code, e.Error, e.Metadata); err != nil {
			return err
		}
		return a.doc(attempt, e.Row, e.Attempt, func(id int64) error { return a.failed(id, e) })
	case *events.JobCancelled:
		return a.endJob(DocCancelled, "", events.StatusCancelled)
	case *events.JobFailed:
		if err := a.failedByJob(jb, e); err != nil {
			return err
		}
		return a.endJob(DocFailed, e.Reason, events.StatusFailed)
	case *events.JobPaused:
		return a.control(events.StatusPaused)
	case *events.JobResumed:
		return a.control(events.StatusProcessing)
	case *events.JobCompleted:
		return a.control(completedStatus(*e))
	case *events.JobRetried:
		return a.retried(attempt, e)
	}
	return a.touch()
}

// applier applies one event.
type applier struct {
	ctx context.Context
	tx  *sqldb.Tx
	t   Tables
	env events.Envelope
	at  int64 // the event's time, unix nanoseconds
}

func (a *applier) exec(q string, args ...any) error {
	_, err := a.tx.Exec(a.ctx, q, args...)
	return err
}

func (a *applier) submitted(e *events.DocumentsSubmitted) error {
	docs, err := json.Marshal(e.Documents)
	if err != nil {
		return err
	}
	return a.exec(`INSERT INTO `+a.t.Name("inputs")+` (input_id, chunk, job_id, docs) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, e.InputID, e.Chunk, a.env.JobID, string(docs))
}

// started makes the job's row and its documents' rows, from the chunks
// its InputID names (rows no chunk carried stay blank, as in results).
func (a *applier) started(e *events.JobStarted) error {
	var n int
	if err := a.tx.QueryRow(a.ctx, `SELECT count(*) FROM `+a.t.Name("jobs")+` WHERE job_id = ?`, a.env.JobID).Scan(&n); err != nil || n > 0 {
		return err
	}
	owner, email, org := a.env.Actor.ID, a.env.Actor.Email, e.OrgID
	if err := a.exec(`INSERT INTO `+a.t.Name("jobs")+` (job_id, owner, org_id, owner_email, status, attempt, total, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`, a.env.JobID, owner, org, email, events.StatusPending, e.Total, a.at, a.at); err != nil {
		return err
	}
	rows := make([]events.Document, e.Total)
	for i := range rows {
		rows[i].Row = i
	}
	chunks, err := a.tx.Query(a.ctx, `SELECT docs FROM `+a.t.Name("inputs")+` WHERE input_id = ? AND job_id = ?`, e.InputID, a.env.JobID)
	if err != nil {
		return err
	}
	for chunks.Next() {
		var raw string
		var docs []events.Document
		if err := chunks.Scan(&raw); err != nil {
			chunks.Close()
			return err
		}
		if err := json.Unmarshal([]byte(raw), &docs); err != nil {
			chunks.Close()
			return err
		}
		for _, d := range docs {
			if d.Row >= 0 && d.Row < len(rows) {
				rows[d.Row] = d
			}
		}
	}
	if err := chunks.Close(); err != nil {
		return err
	}
	if err := a.exec(`DELETE FROM `+a.t.Name("inputs")+` WHERE job_id = ?`, a.env.JobID); err != nil {
		return err
	}
	var base int64
	if err := a.tx.QueryRow(a.ctx, `SELECT COALESCE(MAX(id), 0) FROM `+a.t.Name("documents")).Scan(&base); err != nil {
		return err
	}
	// Multi-row inserts: a start of thousands of documents is one
	// statement per few hundred rows, not two per document.
	pg := a.tx.Dialect() == sqldb.Postgres
	docs, index := make([][]any, 0, len(rows)), make([][]any, 0, len(rows))
	for i, d := range rows {
		extra, err := extraColumn(d)
		if err != nil {
			return err
		}
		id := base + 1 + int64(i)
		f := docFields{Owner: owner, OrgID: org, Title: d.Title, Description: d.Description, Extra: d.Extra}
		row := []any{id, a.env.JobID, i, owner, org, email, d.Title, d.FilePath, d.SourceType, d.Description, extra, DocPending, a.at, a.at}
		if pg {
			row = append(row, searchKeys(f.Owner, f.OrgID, f.Tags), searchBody(f))
		} else {
			index = append(index, []any{id, searchKeys(f.Owner, f.OrgID, f.Tags), searchBody(f)})
		}
		docs = append(docs, row)
	}
	cols, tuple := ``, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`
	if pg {
		cols, tuple = `, tsv`, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, setweight(to_tsvector('simple', ?), 'A') || to_tsvector('simple', ?))`
	}
	if err := upsert(a.ctx, a.tx, `INSERT INTO `+a.t.Name("documents")+` (id, job_id, row_id, owner, org_id, owner_email, title, file_path,
			source_type, description, extra, status, attempt, created_at, updated_at`+cols+`) VALUES `, tuple, "", docs, 100); err != nil {
		return err
	}
	if a.t.indexLater {
		return nil // filled from the rows after the load (FillIndex)
	}
	return upsert(a.ctx, a.tx, `INSERT INTO `+a.t.Name("fts")+` (rowid, keys, body) VALUES `, "(?, ?, ?)", "", index, 200)
}

// extraColumn is a document's extra column: its extra fields as JSON, or
// "" when it has none.
func extraColumn(d events.Document) (string, error) {
	if len(d.Extra) == 0 {
		return "", nil
	}
	b, err := json.Marshal(d.Extra)
	return string(b), err
}

// index writes a document's words into the full-text index.
func (a *applier) index(id int64, f docFields, replace bool) error {
	pg := a.tx.Dialect() == sqldb.Postgres
	if !pg && a.t.indexLater {
		return nil // filled from the rows after the load (FillIndex)
	}
	body, keys := searchBody(f), searchKeys(f.Owner, f.OrgID, f.Tags)
	if pg {
		return a.exec(`UPDATE `+a.t.Name("documents")+` SET tsv = setweight(to_tsvector('simple', ?), 'A') || to_tsvector('simple', ?)
			WHERE id = ?`, keys, body, id)
	}
	if replace {
		if err := a.exec(`DELETE FROM `+a.t.Name("fts")+` WHERE rowid = ?`, id); err != nil {
			return err
		}
	}
	return a.exec(`INSERT INTO `+a.t.Name("fts")+` (rowid, keys, body) VALUES (?, ?, ?)`, id, keys, body)
}

// jobRow is what the rows of a job's later events copy from its start.
type jobRow struct {
	owner, org string
	attempt    int
}

// job returns the event's job: its owner, organisation and current attempt.
func (a *applier) job() (j jobRow, ok bool, err error) {
	err = a.tx.QueryRow(a.ctx, `SELECT owner, org_id, attempt FROM `+a.t.Name("jobs")+` WHERE job_id = ?`, a.env.JobID).
		Scan(&j.owner, &j.org, &j.attempt)
	if errors.Is(err, sql.ErrNoRows) {
		return j, false, nil
	}
	return j, err == nil, err
}

func (a *applier) touch() error {
	return a.exec(`UPDATE `+a.t.Name("jobs")+` SET updated_at = ? WHERE job_id = ?`, a.at, a.env.JobID)
}

// doc steps one document through DocState.Step, the one lifecycle every
// model shares, and calls fill when an outcome event applied.
func (a *applier) doc(jobAttempt, row, attempt int, fill func(id int64) error) error {
	// A document of the current attempt at work makes a pending job
	// processing, as services/job decides it.
	status := "status"
	if attempt == jobAttempt {
		status = `CASE WHEN status = 'pending' THEN 'processing' ELSE status END`
	}
	if err := a.exec(`UPDATE `+a.t.Name("jobs")+` SET updated_at = ?, status = `+status+` WHERE job_id = ?`, a.at, a.env.JobID); err != nil {
		return err
	}
	var id int64
	var cur DocState
	var outcome int
	err := a.tx.QueryRow(a.ctx, `SELECT id, status, attempt, outcome FROM `+a.t.Name("documents")+` WHERE job_id = ? AND row_id = ?`,
		a.env.JobID, row).Scan(&id, &cur.Status, &cur.Attempt, &outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	cur.Outcome = outcome == 1
	next, changed := cur.onDocEvent(a.env.Type, attempt)
	if !changed {
		return nil
	}
	fin := "finished_at"
	if next.Outcome {
		fin = "?"
	}
	args := []any{next.Status, next.Attempt, b2i(next.Outcome), a.at}
	if next.Outcome {
		args = append(args, a.at)
	}
	if err := a.exec(`UPDATE `+a.t.Name("documents")+` SET status = ?, attempt = ?, outcome = ?, updated_at = ?, finished_at = `+fin+
		` WHERE id = ?`, append(args, id)...); err != nil {
		return err
	}
	if fill != nil && next.Outcome {
		return fill(id)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *applier) metadata(id int64, md events.TagMetadata, tags []string, errText, code string) error {
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	if tags == nil {
		tagsJSON = []byte("[]")
	}
	return a.exec(`UPDATE `+a.t.Name("documents")+` SET tags = ?, error = ?, error_code = ?, model = ?, method = ?,
		prompt_tokens = ?, completion_tokens = ?, total_tokens = ?, calls = ?, cost_usd = ?, duration_ms = ?, cached_from = ?
		WHERE id = ?`, string(tagsJSON), errText, code, md.Model, md.Method, md.PromptTokens, md.CompletionTokens,
		md.TotalTokens, md.Calls, md.CostUSD, md.DurationMS, int64(md.CachedFrom), id)
}

func (a *applier) tagged(id int64, jb jobRow, e *events.DocumentTagged) error {
	if err := a.metadata(id, e.Metadata, e.Tags, "", ""); err != nil {
		return err
	}
	if err := a.setTags(id, jb, e.Tags); err != nil {
		return err
	}
	return a.reindex(id, e.Tags)
}

func (a *applier) failed(id int64, e *events.DocumentFailed) error {
	if err := a.metadata(id, e.Metadata, nil, e.Error, e.Code); err != nil {
		return err
	}
	if err := a.setTags(id, jobRow{}, nil); err != nil {
		return err
	}
	return a.reindex(id, nil)
}

func (a *applier) setTags(id int64, jb jobRow, tags []string) error {
	if a.t.indexLater {
		return nil // filled from the rows after the load (FillIndex)
	}
	if err := a.exec(`DELETE FROM `+a.t.Name("tags")+` WHERE doc_id = ?`, id); err != nil {
		return err
	}
	for _, row := range appendTagRows(nil, id, jb.owner, jb.org, tags) {
		if err := a.exec(`INSERT INTO `+a.t.Name("tags")+` (tag, doc_id, owner, org_id, label) VALUES (?, ?, ?, ?, ?)`, row...); err != nil {
			return err
		}
	}
	return nil
}

// normTag is how the tag filter compares tags: trimmed, lower-cased.
func normTag(tag string) string { return strings.ToLower(strings.TrimSpace(tag)) }

func (a *applier) reindex(id int64, tags []string) error {
	if a.t.indexLater && a.tx.Dialect() == sqldb.SQLite {
		return nil // filled from the rows after the load (FillIndex)
	}
	var f docFields
	var extra string
	if err := a.tx.QueryRow(a.ctx, `SELECT owner, org_id, title, description, extra FROM `+a.t.Name("documents")+` WHERE id = ?`, id).
		Scan(&f.Owner, &f.OrgID, &f.Title, &f.Description, &extra); err != nil {
		return err
	}
	if extra != "" {
		if err := json.Unmarshal([]byte(extra), &f.Extra); err != nil {
			return err
		}
	}
	f.Tags = tags
	return a.index(id, f, true)
}

// outcome records the first outcome of a document attempt for analytics,
// whatever the document's state: the in-memory analytics counted every
// attempt's first outcome, and the summary keeps meaning that.
func (a *applier) outcome(jb jobRow, row, attempt int, ok bool, code, reason string, md events.TagMetadata) error {
	return a.exec(`INSERT INTO `+a.t.Name("outcomes")+` (`+outcomeCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		outcomeArgs(a.env, jb, row, attempt, ok, code, reason, md)...)
}

const outcomeCols = `job_id, row_id, attempt, owner, org_id, day, model, ok, code, reason, duration_ms, dur_bucket,
	total_tokens, tok_bucket, calls, prompt_tokens, completion_tokens, cost_usd, cached`

// outcomeArgs is one outcomes row (outcomeCols).
func outcomeArgs(env events.Envelope, jb jobRow, row, attempt int, ok bool, code, reason string, md events.TagMetadata) []any {
	if len(reason) > 160 {
		reason = reason[:160]
	}
	model := md.Model
	if model == "" {
		model = "unknown"
	}
	var tok any
	if md.TotalTokens > 0 {
		tok = bucket(float64(md.TotalTokens))
	}
	cached := 0
	if md.CachedFrom != 0 {
		cached = 1
	}
	return []any{env.JobID, row, attempt, jb.owner, jb.org, env.Time.UTC().Format("2006-01-02"), model, b2i(ok), code, reason,
		md.DurationMS, bucket(float64(md.DurationMS)), md.TotalTokens, tok, md.Calls, md.PromptTokens, md.CompletionTokens,
		md.CostUSD, cached}
}

// bucket is histogram.add's bucket of v.
func bucket(v float64) int {
	if v < 1 {
		return -1
	}
	return int(math.Floor(math.Log(v) / math.Log(bucketGrowth)))
}

// failedByJob records, for analytics, the failure a job's failure gives
// each document it ends (an invalid key, a model never reached): those
// attempts end as failed without a DocumentFailed of their own, and the
// summary left them out while status and search count them failed. No
// model answered them, so their model is "unknown".
func (a *applier) failedByJob(jb jobRow, e *events.JobFailed) error {
	rows, err := a.tx.Query(a.ctx, `SELECT row_id, attempt FROM `+a.t.Name("documents")+
		` WHERE job_id = ? AND status IN ('pending', 'processing') ORDER BY row_id`, a.env.JobID)
	if err != nil {
		return err
	}
	type attempt struct{ row, n int }
	var ended []attempt
	for rows.Next() {
		var at attempt
		if err := rows.Scan(&at.row, &at.n); err != nil {
			rows.Close()
			return err
		}
		ended = append(ended, at)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, at := range ended {
		if err := a.outcome(jb, at.row, at.n, false, e.Code, e.Reason, events.TagMetadata{}); err != nil {
			return err
		}
	}
	return nil
}

// endJob gives every unfinished document the status a job's cancel or
// failure leaves it in (DocState.onJobEnd), then sets the job's status.
func (a *applier) endJob(docStatus, reason, jobStatus string) error {
	set := ""
	args := []any{docStatus, a.at}
	if reason != "" {
		set, args = ", error = ?", append(args, reason)
	}
	args = append(args, a.env.JobID)
	if err := a.exec(`UPDATE `+a.t.Name("documents")+` SET status = ?, updated_at = ?`+set+
		` WHERE job_id = ? AND status IN ('pending', 'processing')`, args...); err != nil {
		return err
	}
	return a.control(jobStatus)
}

func (a *applier) control(status string) error {
	var fin any
	if events.Terminal(status) {
		fin = a.at
	}
	return a.exec(`UPDATE `+a.t.Name("jobs")+` SET status = ?, updated_at = ?, finished_at = ? WHERE job_id = ?`,
		status, a.at, fin, a.env.JobID)
}

func (a *applier) retried(jobAttempt int, e *events.JobRetried) error {
	if e.Attempt <= jobAttempt {
		return a.touch() // a retry already applied
	}
	if err := a.exec(`UPDATE `+a.t.Name("jobs")+` SET attempt = ? WHERE job_id = ?`, e.Attempt, a.env.JobID); err != nil {
		return err
	}
	for _, row := range e.Rows {
		next := DocState{}.onRetry(e.Attempt)
		if err := a.exec(`UPDATE `+a.t.Name("documents")+` SET status = ?, attempt = ?, outcome = 0, updated_at = ?
			WHERE job_id = ? AND row_id = ? AND attempt < ?`, next.Status, next.Attempt, a.at, a.env.JobID, row, e.Attempt); err != nil {
			return err
		}
	}
	return a.control(events.StatusPending)
}
