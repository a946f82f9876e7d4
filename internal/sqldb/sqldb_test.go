package sqldb_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/internal/testenv"
)

func TestRebindSkipsQuotedQuestionMarks(t *testing.T) {
	d := &sqldb.DB{Dialect: sqldb.Postgres}
	got := d.Rebind("SELECT ? , '?' , ?")
	if got != "SELECT $1 , '?' , $2" {
		t.Fatalf("Rebind = %q", got)
	}
	if s := (&sqldb.DB{Dialect: sqldb.SQLite}).Rebind("a = ?"); s != "a = ?" {
		t.Fatalf("sqlite Rebind changed the query: %q", s)
	}
}

func TestSQLiteOpensWithFTS5(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, "CREATE VIRTUAL TABLE f USING fts5(body)"); err != nil {
		t.Fatalf("FTS5 missing from the embedded SQLite: %v", err)
	}
	if _, err := db.Exec(ctx, "INSERT INTO f(body) VALUES (?)", "railway circular"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM f WHERE f MATCH ?", "circular").Scan(&n); err != nil || n != 1 {
		t.Fatalf("match = %d, %v", n, err)
	}
}

func TestOpenRefusesUnknownURL(t *testing.T) {
	if _, err := sqldb.Open(context.Background(), "mysql://x", t.TempDir()); err == nil {
		t.Fatal("a mysql URL was accepted")
	}
}

func TestPostgresSchemaIsPrivateToTheTest(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, testenv.PostgresSchema(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, "CREATE TABLE only_here (a int)"); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := db.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil || schema[:2] != "t_" {
		t.Fatalf("current_schema = %q, %v", schema, err)
	}
	if _, err := db.Exec(ctx, "INSERT INTO only_here VALUES (?)", 1); err != nil {
		t.Fatalf("rebound insert: %v", err)
	}
}

// A path with URI characters opens that very file, not a truncated one.
func TestSQLitePathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{"a#01", "a"} {
		db, err := sqldb.OpenSQLite(ctx, dir+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
			t.Fatalf("%s: %v (another file was opened)", name, err)
		}
		db.Close()
	}
}

// A damaged read.db stops serve with an error that says what to do: the
// file holds only read models, which the log rebuilds.
func TestDamagedSQLiteSaysHowToRecover(t *testing.T) {
	ctx := context.Background()
	notADB := t.TempDir()
	if err := os.WriteFile(filepath.Join(notADB, "read.db"), bytes.Repeat([]byte("garbage!"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	torn := t.TempDir()
	db, err := sqldb.Open(ctx, "", torn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "CREATE TABLE t (a INTEGER)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.OpenFile(filepath.Join(torn, "read.db"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("garbage!"), 125), 100); err != nil { // page 1's b-tree header
		t.Fatal(err)
	}
	f.Close()
	for name, dir := range map[string]string{"not a database": notADB, "torn first page": torn} {
		db, err := sqldb.Open(ctx, "", dir)
		if err == nil {
			db.Close()
			t.Fatalf("%s: opened", name)
		}
		if !strings.Contains(err.Error(), "rebuilt from the log: move it and its -wal and -shm files aside") {
			t.Errorf("%s: %v; want how to recover", name, err)
		}
	}
}

// A PostgreSQL session idle inside a transaction (its process stopped
// mid-batch) is ended by the server, so its row locks do not hold up the
// process that took the lease over; a URL may set its own value.
func TestPostgresEndsSessionsIdleInATransaction(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresSchema(t)
	for _, c := range []struct{ url, want string }{
		{url, sqldb.IdleInTransaction},
		{url + "&idle_in_transaction_session_timeout=1500", "1500ms"},
	} {
		db, err := sqldb.Open(ctx, c.url, "")
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.QueryRow(ctx, "SHOW idle_in_transaction_session_timeout").Scan(&got); err != nil || got != c.want {
			t.Errorf("idle_in_transaction_session_timeout = %q, %v; want %s", got, err, c.want)
		}
		db.Close()
	}
	// The stall itself, with a short timeout: a transaction holding a row
	// and left idle is ended, and a writer of that row goes on.
	stalled, err := sqldb.Open(ctx, url+"&idle_in_transaction_session_timeout=500", "")
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	other, err := sqldb.Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(ctx, "CREATE TABLE held (id int PRIMARY KEY, n int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, "INSERT INTO held VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	tx, err := stalled.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE held SET n = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := other.Exec(wctx, "UPDATE held SET n = 2 WHERE id = 1"); err != nil {
		t.Fatalf("the writer behind an idle transaction: %v", err)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("the idle transaction committed after its session was ended")
	}
}
