package projections_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tagstream/tagstream/events/memstore"
	"github.com/tagstream/tagstream/projections"
)

// Under the SQL runner (checkpoint per batch, generations), the model
// answers as when applied by hand, and a rebuild beside the serving
// generation answers the same.
func TestSearchUnderTheRunnerAndAfterARebuild(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		ctx := context.Background()
		library(s) // applied by hand into SearchTables, for comparison
		log := memstore.New()
		for _, env := range s.envs {
			if _, err := log.Append(ctx, env, nil); err != nil {
				t.Fatal(err)
			}
		}
		run := projections.NewSQLRunner(s.db, log, projections.NewDocumentSearch())
		if err := run.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := run.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		served := &projections.SearchReader{DB: s.db, Tables: func() projections.Tables {
			return run.Tables(projections.DocumentSearchName)
		}}
		if served.Tables() == projections.SearchTables {
			t.Fatal("the runner serves the hand-applied tables; the test compares nothing")
		}
		same := func(when string) {
			t.Helper()
			for _, q := range []projections.DocQuery{{Limit: 50}, {Text: "railway", Limit: 50}, {Tag: "transport", Owner: "alice", Limit: 50},
				{Text: "परिपत्र", Limit: 50}} {
				want, _, err := s.reader.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got, _, err := served.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				w, _ := json.Marshal(want)
				g, _ := json.Marshal(got)
				if string(w) != string(g) || len(want) == 0 {
					t.Errorf("%s, %+v:\n runner %s\n by hand %s", when, q, g, w)
				}
			}
			for _, owner := range []string{"", "alice"} {
				a, err1 := s.reader.Summary(ctx, projections.Scope{Owner: owner}, 10)
				b, err2 := served.Summary(ctx, projections.Scope{Owner: owner}, 10)
				w, _ := json.Marshal(a)
				g, _ := json.Marshal(b)
				if err1 != nil || err2 != nil || string(w) != string(g) {
					t.Errorf("%s summary of %q: %s / %s (%v %v)", when, owner, g, w, err1, err2)
				}
			}
		}
		same("caught up")
		before := served.Tables()
		if err := run.Rebuild(ctx, projections.DocumentSearchName, nil); err != nil {
			t.Fatal(err)
		}
		if served.Tables() == before {
			t.Fatal("the rebuild did not switch generations")
		}
		same("rebuilt")
	})
}
