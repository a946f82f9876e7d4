package sqldb_test

import (
	"context"
	"testing"

	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/internal/testenv"
)

// Any Go string is storable on both stores, as the same text: NUL and
// bytes that are not UTF-8 (PostgreSQL refuses both) become U+FFFD (one
// for a run of invalid bytes), in a
// transaction's prepared statements, a connection's and the pool's, and a
// read by the raw string finds its row.
func TestEveryStringIsStorableAlikeOnBothStores(t *testing.T) {
	ctx := context.Background()
	raw := []string{"a\x00b", "caf\xe9", "\xff\xfe\x00", "plain हिंदी"}
	want := []string{"a\uFFFDb", "caf\uFFFD", "\uFFFD\uFFFD", "plain हिंदी"}
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			url := ""
			if store == "postgres" {
				url = testenv.PostgresSchema(t)
			}
			db, err := sqldb.Open(ctx, url, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(ctx, "CREATE TABLE t (k INTEGER, v TEXT)"); err != nil {
				t.Fatal(err)
			}
			tx, err := db.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range raw[:2] {
				if _, err := tx.Exec(ctx, "INSERT INTO t (k, v) VALUES (?, ?)", i, s); err != nil {
					t.Fatalf("insert %q in a transaction: %v", s, err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, "INSERT INTO t (k, v) VALUES (?, ?)", 2, raw[2]); err != nil {
				t.Fatalf("insert %q: %v", raw[2], err)
			}
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Exec(ctx, "INSERT INTO t (k, v) VALUES (?, ?)", 3, raw[3]); err != nil {
				t.Fatalf("insert %q on a connection: %v", raw[3], err)
			}
			c.Discard()
			for i, s := range raw {
				var k int
				var v string
				if err := db.QueryRow(ctx, "SELECT k, v FROM t WHERE v = ?", s).Scan(&k, &v); err != nil || k != i || v != want[i] {
					t.Errorf("read by %q: %d %q (%v), want %d %q", s, k, v, err, i, want[i])
				}
			}
		})
	}
}
