package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tagstream/tagstream/internal/sqldb"
)

// laterIndexer is a model with an index (or rows that serve as one) it
// can fill from its own rows:
// a generation being built leaves it out of every event (Tables.
// indexLater) and fills it once after the bulk load, before the last
// stretch, which then keeps it up event by event as a serving one does.
type laterIndexer interface {
	// FillIndex fills it from the rows of generation t, as they are.
	FillIndex(ctx context.Context, c *sqldb.Conn, t Tables) error
}

var _ laterIndexer = (*DocumentSearch)(nil)

// fillTx is how many documents one transaction of FillIndex indexes: on
// SQLite each holds the file's write lock, which the live runner waits
// for (5,000: about 0.1-0.2 s; 20,000 held it 0.4-0.6 s at a time, with
// no change in the fill's own time; BENCHMARKS "Commands during a
// rebuild"); fillStmt is how many rows one statement inserts (5 parameters a
// tags row: 10,000, within both stores' limits).
const (
	fillTx   = 5000
	fillStmt = 2000
)

// FillIndex implements laterIndexer for the tags rows and, on SQLite,
// the FTS5 table. Written a few hundred documents per statement, as the
// batches write it, FTS5 flushes a small segment at every statement and
// merges them over and over: most of a SQLite rebuild's time. The tags
// rows are replaced by doc_id, through a key PostgreSQL has no
// statistics for while the table grows from empty: it planned each
// delete as a scan of the whole table, most of a PostgreSQL rebuild's
// time. PostgreSQL's tsv is a column of the documents rows, written
// with them.
//
// It fills the tags rows and full-text rows
// of every document, in id order, computed from its row exactly as
// Apply computes them (setTags, reindex), then on SQLite one 'optimize',
// so the index is one segment as a long-serving one becomes.
//
// FTS5 writes a segment at every statement and, by default, merges
// segments as they pile up; the fill turns that off ('automerge' 0), as
// the one 'optimize' merges them all, then back to FTS5's default of 4:
// the setting is kept in the table's %_config, and a serving index that
// never merged would slow every search down as its segments pile up.
func (*DocumentSearch) FillIndex(ctx context.Context, c *sqldb.Conn, t Tables) error {
	fts := t.Name("fts")
	sqlite := c.Dialect() == sqldb.SQLite
	if sqlite {
		if err := ftsCommand(ctx, c, fts, "automerge", 0); err != nil {
			return err
		}
	}
	for after := int64(0); ; {
		n, last, err := fillIndexPart(ctx, c, t, after)
		if err != nil {
			return fmt.Errorf("read db: fill %s: %w", t.Name("tags"), err)
		}
		if n < fillTx {
			break
		}
		after = last
	}
	if !sqlite {
		return nil
	}
	if _, err := c.Exec(ctx, `INSERT INTO `+fts+` (`+fts+`) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("read db: optimize %s: %w", fts, err)
	}
	return ftsCommand(ctx, c, fts, "automerge", ftsAutomerge)
}

// ftsAutomerge is FTS5's default 'automerge', the serving index's.
const ftsAutomerge = 4

// ftsCommand sets FTS5 table fts's option to v.
func ftsCommand(ctx context.Context, c *sqldb.Conn, fts, option string, v int) error {
	if _, err := c.Exec(ctx, `INSERT INTO `+fts+` (`+fts+`, rank) VALUES (?, ?)`, option, v); err != nil {
		return fmt.Errorf("read db: %s %s: %w", option, fts, err)
	}
	return nil
}

// fillIndexPart indexes up to fillTx documents after id after in one
// transaction, and returns how many and the last id.
func fillIndexPart(ctx context.Context, c *sqldb.Conn, t Tables, after int64) (int, int64, error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	pg := tx.Dialect() == sqldb.Postgres
	rs, err := tx.Query(ctx, `SELECT id, owner, org_id, title, description, extra, tags FROM `+t.Name("documents")+
		` WHERE id > ? ORDER BY id LIMIT ?`, after, fillTx)
	if err != nil {
		return 0, 0, err
	}
	var index, tags [][]any
	var last int64
	n := 0
	for rs.Next() {
		var f docFields
		var extra, tagsJSON string
		if err := rs.Scan(&last, &f.Owner, &f.OrgID, &f.Title, &f.Description, &extra, &tagsJSON); err != nil {
			rs.Close()
			return 0, 0, err
		}
		n++
		// The tags column is the JSON of the outcome's tags ("[]" before
		// one, for a failure and after an erasure), which setTags and
		// reindex were given.
		if err := json.Unmarshal([]byte(tagsJSON), &f.Tags); err != nil {
			rs.Close()
			return 0, 0, err
		}
		if len(f.Tags) == 0 {
			f.Tags = nil
		}
		// A document's owner and organisation are its job's, which
		// setTags copies.
		tags = appendTagRows(tags, last, f.Owner, f.OrgID, f.Tags)
		if pg {
			continue // tsv is kept up with the row
		}
		if extra != "" {
			if err := json.Unmarshal([]byte(extra), &f.Extra); err != nil {
				rs.Close()
				return 0, 0, err
			}
		}
		index = append(index, []any{last, searchKeys(f.Owner, f.OrgID, f.Tags), searchBody(f)})
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, 0, err
	}
	if err := upsert(ctx, tx, `INSERT INTO `+t.Name("tags")+` (tag, doc_id, owner, org_id, label) VALUES `,
		"(?, ?, ?, ?, ?)", "", tags, fillStmt); err != nil {
		return 0, 0, err
	}
	if err := upsert(ctx, tx, `INSERT INTO `+t.Name("fts")+` (rowid, keys, body) VALUES `, "(?, ?, ?)", "", index, fillStmt); err != nil {
		return 0, 0, err
	}
	return n, last, tx.Commit()
}
