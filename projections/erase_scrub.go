package projections

import (
	"context"
	"encoding/json"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// On JobErased the read models keep a job's counts and timeline (statuses,
// attempts, times, tokens, cost, codes) and drop its document data
// (titles, paths, descriptions, extra columns, tags, error texts), as the
// events themselves do once the job's data key is gone. Each model's Apply
// calls its scrub in one line. SQLite overwrites what is deleted only with
// PRAGMA secure_delete (sqldb sets it on every connection) and FTS5 only
// with its secure-delete option (set here before the index is touched);
// sqldb.DB.Checkpoint then empties the WAL, which holds earlier page images.

// erasedDocument is what remains of a document: its row and source type.
func erasedDocument(d events.Document) events.Document {
	return events.Document{Row: d.Row, SourceType: d.SourceType}
}

// scrubResults drops a job's document data from the results model.
func scrubResults(ctx context.Context, tx *sqldb.Tx, t Tables, jobID string) error {
	type row struct {
		no  int
		doc string
	}
	rs, err := tx.Query(ctx, `SELECT row_no, document FROM `+t.Name("rows")+` WHERE job_id = ?`, jobID)
	if err != nil {
		return err
	}
	var rows []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.no, &r.doc); err != nil {
			rs.Close()
			return err
		}
		rows = append(rows, r)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	for _, r := range rows {
		var d events.Document
		_ = json.Unmarshal([]byte(r.doc), &d) // unreadable: only the row remains
		d.Row = r.no
		doc, err := json.Marshal(erasedDocument(d))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE `+t.Name("rows")+` SET document = ?, tags = 'null', error = '' WHERE job_id = ? AND row_no = ?`,
			string(doc), jobID, r.no); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `DELETE FROM `+t.Name("inputs")+` WHERE job_id = ?`, jobID)
	return err
}

// scrubSearch drops a job's document data from the search model and its
// full-text index; the documents stay findable by owner, job and status.
func (a *applier) scrubSearch() error {
	jobID := a.env.JobID
	if a.tx.Dialect() == sqldb.SQLite {
		fts := a.t.Name("fts")
		if err := a.exec(`INSERT INTO ` + fts + ` (` + fts + `, rank) VALUES ('secure-delete', 1)`); err != nil {
			return err
		}
	}
	d := a.t.Name("documents")
	if err := a.exec(`DELETE FROM `+a.t.Name("tags")+` WHERE doc_id IN (SELECT id FROM `+d+` WHERE job_id = ?)`, jobID); err != nil {
		return err
	}
	if err := a.exec(`UPDATE `+d+` SET title = '', file_path = '', description = '', extra = '', tags = '[]', error = ''
		WHERE job_id = ?`, jobID); err != nil {
		return err
	}
	if err := a.exec(`UPDATE `+a.t.Name("outcomes")+` SET reason = '' WHERE job_id = ?`, jobID); err != nil {
		return err
	}
	if err := a.exec(`DELETE FROM `+a.t.Name("inputs")+` WHERE job_id = ?`, jobID); err != nil {
		return err
	}
	type doc struct {
		id         int64
		owner, org string
	}
	rs, err := a.tx.Query(a.ctx, `SELECT id, owner, org_id FROM `+d+` WHERE job_id = ?`, jobID)
	if err != nil {
		return err
	}
	var docs []doc
	for rs.Next() {
		var x doc
		if err := rs.Scan(&x.id, &x.owner, &x.org); err != nil {
			rs.Close()
			return err
		}
		docs = append(docs, x)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	for _, x := range docs {
		if err := a.index(x.id, docFields{Owner: x.owner, OrgID: x.org}, true); err != nil {
			return err
		}
	}
	if a.tx.Dialect() == sqldb.SQLite && !a.t.indexLater {
		// Terms also key the index's segment b-tree (%_idx) and stay in
		// segments until they are merged: optimize rewrites the index
		// into one segment, and secure_delete zeroes the pages it frees.
		// It reads the whole index: an erasure costs about a rebuild of
		// the search index, which erasures are rare enough to afford.
		fts := a.t.Name("fts")
		return a.exec(`INSERT INTO ` + fts + ` (` + fts + `) VALUES ('optimize')`)
	}
	return nil
}
