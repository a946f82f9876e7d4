package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/memstore"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/projections"
)

// A rebuilt search generation finds what the live model finds: words,
// prefixes, Hindi ones too, tags and scopes, after an erasure and a
// retag, for the documents loaded before the rebuild fills its full-text
// index from their rows and for those whose events came during the
// rebuild (a new job, a retagged and an erased one), which the last
// stretch applies to the filled index; and the same top tags.
func TestRebuiltSearchFindsWhatTheLiveOneFinds(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		ctx := context.Background()
		library(s) // applied by hand into SearchTables: what the live model answers
		w := events.Worker("w1")
		at := day1.Add(3 * time.Hour)
		s.emit("job-c", bob, at, events.DocumentsSubmitted{InputID: "in-c", Documents: []events.Document{
			{Row: 0, Title: "Signal maintenance plan", FilePath: "e.pdf", Extra: map[string]any{"zone": "Northern"}},
			{Row: 1, Title: "रेलवे सुरक्षा रिपोर्ट", FilePath: "f.pdf"},
		}})
		s.emit("job-c", bob, at, events.JobStarted{InputID: "in-c", Total: 2, Config: events.JobConfig{Model: "m"}})
		s.emit("job-c", w, at, events.DocumentTagged{Row: 1, Attempt: 1, Tags: []string{"सुरक्षा", "Safety"},
			Metadata: events.TagMetadata{Model: "m", Calls: 1}})
		log := memstore.New()
		for _, env := range s.envs {
			if _, err := log.Append(ctx, env, nil); err != nil {
				t.Fatal(err)
			}
		}
		run := projections.NewSQLRunner(s.db, log, projections.NewDocumentSearch())
		// The bulk load stops short of the events that come during it, so
		// the last stretch applies them (a margin of 2,000 would leave it
		// all of this small log).
		projections.SetSwitchMargin(run, 6)
		if err := run.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := run.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		// Events that come once the rebuild has loaded the log, which the
		// serving generation applies at once: the rebuild applies them in
		// its last stretch, after its index is filled.
		during := func() {
			at := day1.Add(4 * time.Hour)
			for _, env := range []events.Envelope{
				s.emit("job-d", alice, at, events.DocumentsSubmitted{InputID: "in-d", Documents: []events.Document{
					{Row: 0, Title: "Platform lighting tender", FilePath: "g.pdf", Description: "Lamps for stations"},
					{Row: 1, Title: "प्लेटफ़ॉर्म निविदा", FilePath: "h.pdf"},
				}}),
				s.emit("job-d", alice, at, events.JobStarted{InputID: "in-d", Total: 2, Config: events.JobConfig{Model: "m"}}),
				s.emit("job-d", w, at, events.DocumentTagged{Row: 1, Attempt: 1, Tags: []string{"निविदा"},
					Metadata: events.TagMetadata{Model: "m", Calls: 1}}),
				// job-a's budget notes failed; a retry tags them.
				s.emit("job-a", w, at, events.JobRetried{Attempt: 2, Rows: []int{2}}),
				s.emit("job-a", w, at, events.DocumentTagged{Row: 2, Attempt: 2, Tags: []string{"Accounts"},
					Metadata: events.TagMetadata{Model: "m", Calls: 1}}),
				s.emit("job-b", bob, at, events.JobErased{Reason: "request"}),
			} {
				if _, err := log.Append(ctx, env, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := run.CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
		}
		served := &projections.SearchReader{DB: s.db, Tables: func() projections.Tables {
			return run.Tables(projections.DocumentSearchName)
		}}
		before := served.Tables()
		once := false
		var phases []string
		if err := run.Rebuild(ctx, projections.DocumentSearchName, func(p projections.Progress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
			if !once {
				once = true
				during()
			}
		}); err != nil {
			t.Fatal(err)
		}
		// Search fills its index after the load: operators see why Done
		// stops moving for a while.
		if want := []string{projections.PhaseLoading, projections.PhaseIndexing, projections.PhaseSwitching}; fmt.Sprint(phases) != fmt.Sprint(want) {
			t.Fatalf("phases %v, want %v", phases, want)
		}
		if !once || served.Tables() == before || served.Tables() == projections.SearchTables {
			t.Fatalf("the rebuild did not switch generations (events during it: %v)", once)
		}
		// The fill turns FTS5's merging of segments off; the index it
		// then serves merges again, or its segments would pile up with
		// every write and every search read them all.
		if s.db.Dialect == sqldb.SQLite {
			var merge int
			cfg := served.Tables().Name("fts") + "_config"
			if err := s.db.QueryRow(ctx, `SELECT COALESCE((SELECT v FROM `+cfg+` WHERE k = 'automerge'), 4)`).Scan(&merge); err != nil || merge != 4 {
				t.Fatalf("served index's automerge: %d %v, want FTS5's default 4", merge, err)
			}
		}
		found := 0
		for _, q := range []projections.DocQuery{
			{Text: "railway"}, {Text: "rail*"}, {Text: "RAILWAY circular"}, {Text: "suburban"}, {Text: "fares"},
			{Text: "finance"}, {Text: "12"}, {Text: "accounts"}, {Text: "budget"}, {Text: "transport"},
			{Text: "परिपत्र"}, {Text: "रेलवे"}, {Text: "रेल*"}, {Text: "हिंदी"}, {Text: "सुरक्षा"}, {Text: "सुर*"},
			{Text: "signal"}, {Text: "northern"}, {Text: "safety"}, {Text: "saf*"},
			{Text: "platform"}, {Text: "plat*"}, {Text: "lamps"}, {Text: "निविदा"}, {Text: "प्ले*"},
			{Text: "timetable"}, {Text: "railway", Owner: "alice"}, {Text: "रेलवे", Owner: "bob"},
			{Tag: "transport"}, {Tag: "निविदा", Owner: "alice"}, {Tag: "accounts"}, {Limit: 50},
		} {
			if q.Limit == 0 {
				q.Limit = 50
			}
			want, _, err := s.reader.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := served.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if string(wj) != string(gj) {
				t.Errorf("%+v:\n rebuilt %s\n live    %s", q, gj, wj)
			}
			found += len(want)
		}
		// The top tags come from the tags rows, which the rebuild fills
		// from the documents rows too.
		for _, owner := range []string{"", "alice", "bob"} {
			a, err1 := s.reader.Summary(ctx, projections.Scope{Owner: owner}, 10)
			b, err2 := served.Summary(ctx, projections.Scope{Owner: owner}, 10)
			wj, _ := json.Marshal(a)
			gj, _ := json.Marshal(b)
			if err1 != nil || err2 != nil || string(wj) != string(gj) {
				t.Errorf("summary of %q:\n rebuilt %s\n live    %s (%v %v)", owner, gj, wj, err1, err2)
			}
		}
		// The retired generation's tables, FTS5 table and all, go with
		// DropRetired; the served one still answers.
		if err := run.DropRetired(ctx); err != nil {
			t.Fatal(err)
		}
		q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?`
		if s.db.Dialect == sqldb.Postgres {
			q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE ?`
		}
		var left string
		if err := s.db.QueryRow(ctx, q, before.Prefix+"%").Scan(&left); err == nil {
			t.Fatalf("retired table %s kept after DropRetired", left)
		}
		if got, _, err := served.Search(ctx, projections.DocQuery{Text: "railway", Limit: 50}); err != nil || len(got) == 0 {
			t.Fatalf("after DropRetired the served generation answers %d hits, %v", len(got), err)
		}
		// The answers are not all empty, and the erased timetable is gone.
		if found < 30 || len(s.search(projections.DocQuery{Text: "timetable"})) != 0 ||
			len(s.search(projections.DocQuery{Text: "platform"})) != 1 || len(s.search(projections.DocQuery{Text: "accounts"})) != 1 {
			t.Fatalf("the live model answers %d hits; timetable, platform, accounts: %d %d %d", found,
				len(s.search(projections.DocQuery{Text: "timetable"})), len(s.search(projections.DocQuery{Text: "platform"})),
				len(s.search(projections.DocQuery{Text: "accounts"})))
		}
	})
}
