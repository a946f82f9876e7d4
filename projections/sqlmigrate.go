package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tagstream/tagstream/internal/sqldb"
)

// frameworkMigrations create and evolve the runner's own tables. They are
// applied in order at start, each once, recorded in
// projection_migrations; append new ones, never edit a released one.
var frameworkMigrations = []string{
	// 1: one checkpoint row per model generation. serving marks the
	// generation readers use; a rebuild writes the next one beside it.
	`CREATE TABLE IF NOT EXISTS projection_checkpoints (
		name       TEXT    NOT NULL,
		generation INTEGER NOT NULL,
		version    INTEGER NOT NULL,
		seq        BIGINT  NOT NULL,
		state      TEXT    NOT NULL,
		failed_seq BIGINT  NOT NULL DEFAULT 0,
		reason     TEXT    NOT NULL DEFAULT '',
		serving    INTEGER NOT NULL DEFAULT 0,
		updated    BIGINT  NOT NULL,
		PRIMARY KEY (name, generation)
	)`,
	// 2: the events the models skipped (written by a newer release), kept
	// so a restart from the checkpoint still reports them.
	`CREATE TABLE IF NOT EXISTS projection_skips (
		seq     BIGINT  PRIMARY KEY,
		type    TEXT    NOT NULL,
		version INTEGER NOT NULL
	)`,
}

// migrate applies the framework migrations this database has not seen.
func migrate(ctx context.Context, db *sqldb.DB) error {
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS projection_migrations (
		version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("read db: migrations table: %w", err)
	}
	for i, stmt := range frameworkMigrations {
		v := i + 1
		tx, err := db.Begin(ctx)
		if err != nil {
			return fmt.Errorf("read db: migration %d: %w", v, err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM projection_migrations WHERE version = ?`, v).Scan(&n); err != nil {
			tx.Rollback()
			return fmt.Errorf("read db: migration %d: %w", v, err)
		}
		if n > 0 {
			tx.Rollback()
			continue
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			tx.Rollback()
			return fmt.Errorf("read db: migration %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO projection_migrations (version, applied) VALUES (?, ?)`, v, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			// Another process applied it at the same moment: fine.
			if strings.Contains(strings.ToLower(err.Error()), "unique") || strings.Contains(err.Error(), "duplicate") {
				continue
			}
			return fmt.Errorf("read db: migration %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("read db: migration %d: %w", v, err)
		}
	}
	return nil
}

// tablesFor names generation gen of a model's tables: "job-status", 2 ->
// "job_status_g2_".
func tablesFor(name string, gen int) Tables {
	return Tables{Prefix: fmt.Sprintf("%s_g%d_", strings.ReplaceAll(name, "-", "_"), gen)}
}

// DropRetired drops the tables of generations a switch retired, and
// their checkpoint rows. A process calls it after Open, beside serving,
// not before: the tables of a retired generation are as large as the
// history, and dropping them (on SQLite, zeroing every freed page, as
// secure_delete makes every delete do for erasures) took longer the
// longer the history, a cost every restart after a rebuild paid before
// answering. A process that served a retired generation has long moved to
// the new one (a runner reloads at its first batch after a switch).
//
// It drops the generations of rebuilds that stopped before their switch
// too (the command interrupted, the process killed, an error), which
// would otherwise stay as large as the history for ever: those this
// runner is not building whose checkpoint has not moved for abandonAfter
// (a rebuild commits each batch and beats a heartbeat in between).
// Another process may be building one (on PostgreSQL, or the projections
// command beside serve on SQLite), so a generation is first claimed, its
// state set to dropping only if its checkpoint is still as read; a
// builder's next commit, and its switch, then find it gone and stop.
func (r *SQLRunner) DropRetired(ctx context.Context) error {
	db := r.db
	rows, err := db.Query(ctx, `SELECT name, generation, state, updated FROM projection_checkpoints
		WHERE serving = 0 AND state IN (?, ?, ?)`, stateRetired, StateRebuilding, stateDropping)
	if err != nil {
		return fmt.Errorf("read db: retired generations: %w", err)
	}
	type gen struct {
		name, state string
		gen         int
		updated     int64
	}
	var retired []gen
	for rows.Next() {
		var g gen
		if err := rows.Scan(&g.name, &g.gen, &g.state, &g.updated); err != nil {
			rows.Close()
			return err
		}
		if g.state == StateRebuilding && (r.building(g.name) || time.Since(time.Unix(0, g.updated)) < abandonAfter) {
			continue
		}
		if g.state == stateRetired && time.Since(time.Unix(0, g.updated)) < r.RetiredGrace {
			continue // other processes may still serve it (see RetiredGrace)
		}
		retired = append(retired, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(retired) == 0 {
		return err
	}
	tables, err := listTables(ctx, db)
	if err != nil {
		return err
	}
	for _, g := range retired {
		res, err := db.Exec(ctx, `UPDATE projection_checkpoints SET state = ? WHERE name = ? AND generation = ? AND serving = 0
			AND state = ? AND updated = ?`, stateDropping, g.name, g.gen, g.state, g.updated)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			continue // switched to, committed to, or claimed since it was read
		}
		prefix := tablesFor(g.name, g.gen).Prefix
		for _, tb := range tables {
			if !strings.HasPrefix(tb, prefix) {
				continue
			}
			if err := emptyTable(ctx, db, tb); err != nil {
				return fmt.Errorf("read db: empty %s: %w", tb, err)
			}
			if _, err := db.Exec(ctx, `DROP TABLE IF EXISTS `+tb); err != nil {
				return fmt.Errorf("read db: drop %s: %w", tb, err)
			}
		}
		if _, err := db.Exec(ctx, `DELETE FROM projection_checkpoints WHERE name = ? AND generation = ? AND state = ?`,
			g.name, g.gen, stateDropping); err != nil {
			return err
		}
	}
	return nil
}

// abandonAfter is how long a generation being built may go without its
// checkpoint moving before DropRetired takes it for abandoned: a builder
// commits every batch and beats a heartbeat (heartbeatEvery) while it
// fills or makes an index; the margin also covers the clocks of several
// hosts sharing PostgreSQL.
const abandonAfter = time.Hour

// building reports whether this runner is rebuilding the model (set
// before its new generation is created, so a generation DropRetired
// lists while it is set may be that one).
func (r *SQLRunner) building(model string) bool {
	mr := r.run(model)
	if mr == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return mr.rebuild != nil
}

// dropChunk is how many rows one transaction of emptyTable deletes.
const dropChunk = 5000

// emptyTable deletes a SQLite table's rows a chunk per transaction
// before it is dropped: each transaction holds the file's write lock,
// which the serving runner's commits wait for, for a chunk's time, not
// for the whole table's. An FTS5 table is left to its DROP (its rows are
// deleted through the index, dearer than dropping it), as are the FTS5
// table's own shadow tables, which go with it, and PostgreSQL's tables,
// whose DROP does not rewrite them.
func emptyTable(ctx context.Context, db *sqldb.DB, tb string) error {
	if db.Dialect != sqldb.SQLite {
		return nil
	}
	var sqlText string
	err := db.QueryRow(ctx, `SELECT COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' AND name = ?`, tb).Scan(&sqlText)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // dropped with its FTS5 table
	}
	if err != nil || strings.Contains(strings.ToUpper(sqlText), "VIRTUAL TABLE") || isShadow(tb) {
		return err
	}
	key := "rowid"
	if strings.Contains(strings.ToUpper(sqlText), "WITHOUT ROWID") {
		if key, err = primaryKey(ctx, db, tb); err != nil {
			return err
		}
	}
	for {
		res, err := db.Exec(ctx, `DELETE FROM `+tb+` WHERE (`+key+`) IN (SELECT `+key+` FROM `+tb+` LIMIT ?)`, dropChunk)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
	}
}

// primaryKey is the primary key columns of SQLite table tb, in key
// order and comma-separated: what keys a WITHOUT ROWID table's rows.
func primaryKey(ctx context.Context, db *sqldb.DB, tb string) (string, error) {
	rows, err := db.Query(ctx, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, tb)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return "", err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("%s has no primary key", tb)
	}
	return strings.Join(cols, ", "), nil
}

// isShadow reports whether tb is one of an FTS5 table's shadow tables.
func isShadow(tb string) bool {
	for _, s := range []string{"_data", "_idx", "_content", "_docsize", "_config"} {
		if strings.HasSuffix(tb, "fts"+s) {
			return true
		}
	}
	return false
}

// listTables names the tables of the read database (the current schema on
// PostgreSQL).
func listTables(ctx context.Context, db *sqldb.DB) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if db.Dialect == sqldb.Postgres {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`
	}
	rows, err := db.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read db: list tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
