package projections

import (
	"context"
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
