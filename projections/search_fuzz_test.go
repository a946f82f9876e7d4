package projections

import (
	"context"
	"strings"
	"testing"
	"unicode"

	"github.com/tagstream/tagstream/internal/sqldb"
)

// FuzzSearchQuery: whatever a user types, the query parser returns words
// of letters, digits and marks only (nothing of the FTS5 or tsquery
// syntax), at most maxTerms of them, and SQLite accepts the MATCH
// expression built from them.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"railway", "rail*", `"a" OR b NEAR(c)`, "हिंदी परिपत्र*", "a-b.c/d", "*", "x:y", "'", "body : x", "keys : \"o\"", "\x00\xff"} {
		f.Add(s)
	}
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, f.TempDir()+"/fuzz.db")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin(ctx)
	if err != nil {
		f.Fatal(err)
	}
	if err := NewDocumentSearch().Create(ctx, tx, SearchTables); err != nil {
		f.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms, err := parseQuery(q)
		if err != nil {
			if len(strings.Fields(q)) == 0 {
				t.Fatalf("%q: %v", q, err)
			}
			return
		}
		if len(terms) > maxTerms {
			t.Fatalf("%q: %d terms", q, len(terms))
		}
		for _, term := range terms {
			if term.Word == "" || strings.ContainsFunc(term.Word, func(r rune) bool {
				return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
			}) {
				t.Fatalf("%q: term %q", q, term.Word)
			}
		}
		if len(terms) == 0 {
			return
		}
		spec := searchSpec{terms: terms, keys: []string{ownerToken(q), tagToken(q)}}
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM `+SearchTables.Name("fts")+` WHERE `+SearchTables.Name("fts")+` MATCH ?`,
			ftsMatch(spec)).Scan(&n); err != nil {
			t.Fatalf("%q: MATCH %q: %v", q, ftsMatch(spec), err)
		}
	})
}
