// Package sqldb opens the read database: an embedded SQLite file (no cgo,
// modernc.org/sqlite) or PostgreSQL (pgx), and hides the one difference
// read models must not care about: placeholders. Models write "?" and the
// Tx rebinds them to "$n" for PostgreSQL.
package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // driver "sqlite"
)

// Dialect names the SQL flavour behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open read database.
type DB struct {
	SQL     *sql.DB
	Dialect Dialect
	writers turns // SQLite: this process's writers take turns (writeturn.go)
}

// IdleInTransaction is PostgreSQL's idle_in_transaction_session_timeout
// on every read-database connection unless the URL sets it: a process
// stopped in the middle of a batch (SIGSTOP, a long GC pause, a host that
// froze) keeps its row locks, and the process that took the lease over
// waited behind them for as long as it stayed stopped. A batch's
// statements follow each other within milliseconds; 10 s is far past any
// of them and keeps a takeover within about 20 s.
const IdleInTransaction = "10s"

// Open opens TAGSTREAM_READ_DB: empty means a SQLite file "read.db" in
// dataDir; a postgres:// or postgresql:// URL means PostgreSQL.
func Open(ctx context.Context, url, dataDir string) (*DB, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return nil, fmt.Errorf("read db: %w", err)
		}
		if _, set := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
			cfg.RuntimeParams["idle_in_transaction_session_timeout"] = IdleInTransaction
		}
		db := stdlib.OpenDB(*cfg)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("read db: postgres: %w", err)
		}
		return &DB{SQL: db, Dialect: Postgres, writers: newTurns(Postgres)}, nil
	}
	if url != "" {
		return nil, fmt.Errorf("read db: TAGSTREAM_READ_DB must be empty (SQLite in the data dir) or a postgres:// URL")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("read db: %w", err)
	}
	return OpenSQLite(ctx, filepath.Join(dataDir, "read.db"))
}

// OpenSQLite opens (creating) a SQLite file with WAL, so readers never
// wait for the projection writer. Transactions begin IMMEDIATE: a batch
// reads then writes, and a deferred one would fail with "database is
// locked" instead of waiting when a rebuild (or another process) wrote
// between its read and its first write.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	return OpenSQLiteWith(ctx, "sqlite", path)
}

// OpenSQLiteWith is OpenSQLite through another registered database/sql
// SQLite driver that reads the same DSN (_pragma, _txlock): the driver
// benchmark opens github.com/ncruces/go-sqlite3 ("sqlite3") with it, so
// both drivers run with the same pragmas. Production uses "sqlite".
func OpenSQLiteWith(ctx context.Context, driverName, path string) (*DB, error) {
	// The path is part of a URI: '#', '?' and '%' in it (a test's temp
	// dir "x#01", say) would cut it short and open another file.
	esc := strings.NewReplacer("%", "%25", "#", "%23", "?", "%3f").Replace(path)
	dsn := "file:" + esc + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=secure_delete(ON)&_txlock=immediate"
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("read db: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if damaged(err) {
			return nil, fmt.Errorf("read db: sqlite %s is damaged (%w); it holds only read models, which are rebuilt from the log: move it and its -wal and -shm files aside and start again", path, err)
		}
		return nil, fmt.Errorf("read db: sqlite %s: %w", path, err)
	}
	return &DB{SQL: db, Dialect: SQLite, writers: newTurns(SQLite)}, nil
}

// damaged reports whether err is SQLite's SQLITE_CORRUPT or SQLITE_NOTADB
// (primary codes 11 and 26; the drivers' errors carry them as Code()).
func damaged(err error) bool {
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return false
	}
	code := coded.Code() & 0xff
	return code == 11 || code == 26
}

// Close closes the database.
func (d *DB) Close() error { return d.SQL.Close() }

// Rebind turns "?" placeholders into "$1, $2, ..." for PostgreSQL. It
// skips question marks inside single-quoted literals.
func (d *DB) Rebind(q string) string {
	if d.Dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n, quoted := 0, false
	for _, r := range q {
		switch {
		case r == '\'':
			quoted = !quoted
		case r == '?' && !quoted:
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Begin starts a transaction whose statements are rebound.
func (d *DB) Begin(ctx context.Context) (*Tx, error) { return d.begin(ctx, d.SQL.BeginTx) }

// begin starts a transaction through beginTx (the pool's or one
// connection's) in a writer's turn, which the transaction's end ends.
func (d *DB) begin(ctx context.Context, beginTx func(context.Context, *sql.TxOptions) (*sql.Tx, error)) (*Tx, error) {
	end, err := d.writers.take(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := beginTx(ctx, nil)
	if err != nil {
		end()
		return nil, err
	}
	return &Tx{tx: tx, db: d, end: end}, nil
}

// Query runs a read outside any transaction.
func (d *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.SQL.QueryContext(ctx, d.Rebind(q), storable(args)...)
}

// QueryRow runs a one-row read outside any transaction.
func (d *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return d.SQL.QueryRowContext(ctx, d.Rebind(q), storable(args)...)
}

// Exec runs a statement outside any transaction.
func (d *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.exec(ctx, d.SQL.ExecContext, q, args)
}

// exec runs a statement through execContext (the pool's or one
// connection's) in a writer's turn.
func (d *DB) exec(ctx context.Context, execContext func(context.Context, string, ...any) (sql.Result, error), q string, args []any) (sql.Result, error) {
	end, err := d.writers.take(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	return execContext(ctx, d.Rebind(q), storable(args)...)
}

// Tx is a transaction that speaks "?" placeholders on every dialect. It
// prepares each distinct statement once per transaction: a batch of read
// model writes runs the same few statements hundreds of times, and
// parsing them again each time was most of the cost.
type Tx struct {
	tx    *sql.Tx
	db    *DB
	stmts map[string]*sql.Stmt
	end   func() // ends the writer's turn
}

// maxStmts bounds the per-transaction cache (statements built with a
// varying IN list would otherwise grow it without end).
const maxStmts = 64

func (t *Tx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := t.stmts[q]; ok {
		return s, nil
	}
	s, err := t.tx.PrepareContext(ctx, t.db.Rebind(q))
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	if len(t.stmts) < maxStmts {
		t.stmts[q] = s
	}
	return s, nil
}

// Dialect is the dialect of the database the transaction runs on.
func (t *Tx) Dialect() Dialect { return t.db.Dialect }

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if len(args) == 0 {
		return t.tx.ExecContext(ctx, t.db.Rebind(q)) // DDL, savepoints: not worth a statement
	}
	s, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, storable(args)...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, storable(args)...)
}

// QueryRow runs a one-row query in the transaction.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	s, err := t.stmt(ctx, q)
	if err != nil {
		return t.tx.QueryRowContext(ctx, t.db.Rebind(q), storable(args)...) // reports the same error on Scan
	}
	return s.QueryRowContext(ctx, storable(args)...)
}

// Commit commits the transaction.
func (t *Tx) Commit() error {
	defer t.endTurn()
	return t.tx.Commit()
}

func (t *Tx) endTurn() {
	if t.end != nil {
		t.end()
	}
}

// Rollback abandons the transaction.
func (t *Tx) Rollback() error {
	defer t.endTurn()
	return t.tx.Rollback()
}

// Checkpoint writes SQLite's WAL into the database and truncates it, so
// the page images it held (rows since overwritten, with secure_delete, by
// an erasure) leave the disk. PostgreSQL: nothing to do here (its old row
// versions go with VACUUM; see README, Erasure).
func (d *DB) Checkpoint(ctx context.Context) error {
	if d.Dialect != SQLite {
		return nil
	}
	_, err := d.SQL.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// Conn is one connection of the pool held by a single writer, for
// settings that must hold for its transactions only (a rebuild's larger
// page cache, say) and not for the readers sharing the pool.
type Conn struct {
	conn *sql.Conn
	db   *DB
}

// Conn takes a connection out of the pool until Discard.
func (d *DB) Conn(ctx context.Context) (*Conn, error) {
	c, err := d.SQL.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &Conn{conn: c, db: d}, nil
}

// Exec runs a statement on the connection outside any transaction.
func (c *Conn) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.db.exec(ctx, c.conn.ExecContext, q, args)
}

// QueryRow runs a query on the connection outside any transaction.
func (c *Conn) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return c.conn.QueryRowContext(ctx, c.db.Rebind(q), storable(args)...)
}

// Dialect is the dialect of the database the connection is to.
func (c *Conn) Dialect() Dialect { return c.db.Dialect }

// Begin starts a transaction on the connection.
func (c *Conn) Begin(ctx context.Context) (*Tx, error) { return c.db.begin(ctx, c.conn.BeginTx) }

// Discard closes the connection instead of returning it to the pool, so
// whatever was set on it (and the memory it holds) goes with it.
func (c *Conn) Discard() error {
	_ = c.conn.Raw(func(any) error { return driver.ErrBadConn })
	return c.conn.Close()
}
