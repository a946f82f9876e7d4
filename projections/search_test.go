package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/projections"
)

// searchStore is the document-search model in one store, applied to by
// hand (one transaction per event) until the runner drives it.
type searchStore struct {
	t      *testing.T
	db     *sqldb.DB
	model  *projections.DocumentSearch
	reader *projections.SearchReader
	seq    uint64
	envs   []events.Envelope // what emit applied
}

// eachStore runs the same test against SQLite and PostgreSQL.
func eachStore(t *testing.T, fn func(t *testing.T, s *searchStore)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqldb.Open(context.Background(), "", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fn(t, newSearchStore(t, db))
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := sqldb.Open(context.Background(), testenv.PostgresSchema(t), "")
		if err != nil {
			t.Fatal(err)
		}
		fn(t, newSearchStore(t, db))
	})
}

func newSearchStore(t *testing.T, db *sqldb.DB) *searchStore {
	t.Cleanup(func() { db.Close() })
	s := &searchStore{t: t, db: db, model: projections.NewDocumentSearch(),
		reader: &projections.SearchReader{DB: db}}
	s.tx(func(tx *sqldb.Tx) error { return s.model.Create(context.Background(), tx, projections.SearchTables) })
	return s
}

func (s *searchStore) tx(fn func(tx *sqldb.Tx) error) {
	s.t.Helper()
	tx, err := s.db.Begin(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		s.t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		s.t.Fatal(err)
	}
}

// apply applies envelopes as the runner would: each once, in order.
func (s *searchStore) apply(envs ...events.Envelope) {
	s.t.Helper()
	s.tx(func(tx *sqldb.Tx) error {
		for _, env := range envs {
			if err := env.Load(); err != nil && !events.IsUnknown(err) {
				return err
			}
			if err := s.model.Apply(context.Background(), tx, projections.SearchTables, env); err != nil {
				return err
			}
		}
		return nil
	})
}

// emit makes an envelope of job by actor at time at and applies it.
func (s *searchStore) emit(job string, actor events.Actor, at time.Time, ev events.Event) events.Envelope {
	s.t.Helper()
	env, err := events.New(job, actor, ev)
	if err != nil {
		s.t.Fatal(err)
	}
	s.seq++
	env.Seq, env.Time = s.seq, at
	s.apply(env)
	s.envs = append(s.envs, env)
	return env
}

func (s *searchStore) search(q projections.DocQuery) []projections.DocHit {
	s.t.Helper()
	if q.Limit == 0 {
		q.Limit = 50
	}
	hits, _, err := s.reader.Search(context.Background(), q)
	if err != nil {
		s.t.Fatalf("search %+v: %v", q, err)
	}
	return hits
}

func titles(hits []projections.DocHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Title
	}
	return out
}

var (
	alice = events.User("alice", "alice@example.com")
	bob   = events.User("bob", "bob@example.com")
	day1  = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
)

// library starts alice's job of three documents (one in Hindi) and bob's
// of one, and tags them.
func library(s *searchStore) {
	s.emit("job-a", alice, day1, events.DocumentsSubmitted{InputID: "in-a", Documents: []events.Document{
		{Row: 0, Title: "Railway circular 2024", FilePath: "a.pdf", Description: "Fares for suburban trains"},
		{Row: 1, Title: "हिंदी रेलवे परिपत्र", FilePath: "b.pdf"},
		{Row: 2, Title: "Budget notes", FilePath: "c.pdf", Extra: map[string]any{"department": "Finance", "pages": 12.0}},
	}})
	s.emit("job-a", alice, day1, events.JobStarted{InputID: "in-a", Total: 3, Config: events.JobConfig{Model: "m"}})
	s.emit("job-b", bob, day1.Add(time.Hour), events.DocumentsSubmitted{InputID: "in-b", Documents: []events.Document{
		{Row: 0, Title: "Railway timetable", FilePath: "d.pdf"},
	}})
	s.emit("job-b", bob, day1.Add(time.Hour), events.JobStarted{InputID: "in-b", Total: 1, Config: events.JobConfig{Model: "m"}})
	w := events.Worker("w1")
	at := day1.Add(2 * time.Hour)
	s.emit("job-a", w, at, events.DocumentStarted{Row: 0, Attempt: 1})
	s.emit("job-a", w, at, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"Transport", "fares"},
		Metadata: events.TagMetadata{Model: "m", TotalTokens: 120, Calls: 1, DurationMS: 900, CostUSD: 0.25}})
	s.emit("job-a", w, at, events.DocumentTagged{Row: 1, Attempt: 1, Tags: []string{"रेलवे", "transport"},
		Metadata: events.TagMetadata{Model: "m", TotalTokens: 80, Calls: 1, DurationMS: 400, CostUSD: 0.5}})
	s.emit("job-a", w, at, events.DocumentFailed{Row: 2, Attempt: 1, Error: "not a PDF", Code: "not_pdf",
		Metadata: events.TagMetadata{Model: "m", DurationMS: 20}})
	s.emit("job-b", w, at, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"transport"},
		Metadata: events.TagMetadata{Model: "m2", TotalTokens: 50, Calls: 1, DurationMS: 300}})
}

func TestSearchFindsWordsOfTitlesTagsDescriptionsAndExtraColumns(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		library(s)
		cases := []struct {
			q, owner string
			want     []string
		}{
			{"railway", "alice", []string{"Railway circular 2024"}},
			{"railway", "", []string{"Railway timetable", "Railway circular 2024"}},
			{"RAILWAY Circular", "", []string{"Railway circular 2024"}},
			{"suburban", "alice", []string{"Railway circular 2024"}}, // description
			{"fares", "alice", []string{"Railway circular 2024"}},    // tag and description
			{"finance", "alice", []string{"Budget notes"}},           // extra column
			{"12", "alice", []string{"Budget notes"}},                // a number in an extra column
			{"परिपत्र", "alice", []string{"हिंदी रेलवे परिपत्र"}},    // a Hindi word of the title
			{"रेलवे", "alice", []string{"हिंदी रेलवे परिपत्र"}},      // a Hindi tag (and title word)
			{"हिंदी", "alice", []string{"हिंदी रेलवे परिपत्र"}},      // vowel signs and anusvara stay in the word
			{"ह", "alice", nil},                                   // a letter alone is not a word of it
			{"rail", "alice", nil},                                // whole words ...
			{"rail*", "alice", []string{"Railway circular 2024"}}, // ... unless asked for a prefix
			{"रेल*", "alice", []string{"हिंदी रेलवे परिपत्र"}}, // prefixes in Devanagari too
			{"railway budget", "alice", nil},             // every word must occur
			{`"railway" OR (budget) NEAR`, "alice", nil}, // query syntax is only words
			{"timetable", "alice", nil},                  // bob's
		}
		for _, c := range cases {
			got := titles(s.search(projections.DocQuery{Owner: c.owner, Text: c.q}))
			if !equalStrings(got, c.want) {
				t.Errorf("q=%q owner=%q: got %q, want %q", c.q, c.owner, got, c.want)
			}
		}
	})
}

func TestSearchFiltersByTagJobStatusAndTime(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		library(s)
		cases := []struct {
			name string
			q    projections.DocQuery
			want []string
		}{
			{"tag, any case", projections.DocQuery{Tag: "TRANSPORT"}, []string{"Railway timetable", "हिंदी रेलवे परिपत्र", "Railway circular 2024"}},
			{"tag of an owner", projections.DocQuery{Tag: "transport", Owner: "bob"}, []string{"Railway timetable"}},
			{"Hindi tag", projections.DocQuery{Tag: "रेलवे"}, []string{"हिंदी रेलवे परिपत्र"}},
			{"tag and words", projections.DocQuery{Tag: "transport", Text: "railway"}, []string{"Railway timetable", "Railway circular 2024"}},
			{"unknown tag", projections.DocQuery{Tag: "nothing"}, nil},
			{"job", projections.DocQuery{JobID: "job-a", Statuses: []string{"failed"}}, []string{"Budget notes"}},
			{"status", projections.DocQuery{Statuses: []string{"success"}, Owner: "alice"}, []string{"हिंदी रेलवे परिपत्र", "Railway circular 2024"}},
			{"since", projections.DocQuery{Since: day1.Add(30 * time.Minute)}, []string{"Railway timetable"}},
			{"until", projections.DocQuery{Until: day1.Add(30 * time.Minute), Text: "railway"}, []string{"Railway circular 2024"}},
			// Bounds past what nanoseconds hold (1677-2262) are no bound.
			{"until the year 9999", projections.DocQuery{Until: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), Text: "railway"},
				[]string{"Railway timetable", "Railway circular 2024"}},
			{"until the year 3000", projections.DocQuery{Until: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Text: "railway"},
				[]string{"Railway timetable", "Railway circular 2024"}},
			{"since the year 1000", projections.DocQuery{Since: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), Text: "railway"},
				[]string{"Railway timetable", "Railway circular 2024"}},
			{"since the year 9999", projections.DocQuery{Since: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
			{"until the year 1000", projections.DocQuery{Until: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
		}
		for _, c := range cases {
			if got := titles(s.search(c.q)); !equalStrings(got, c.want) {
				t.Errorf("%s: got %q, want %q", c.name, got, c.want)
			}
		}
	})
}

func TestSearchPagesWithACursorThroughEveryPlan(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		library(s)
		for _, q := range []projections.DocQuery{{}, {Owner: "alice"}, {Text: "railway"}, {Tag: "transport"}, {Tag: "transport", Text: "railway"}} {
			all := titles(s.search(q))
			var paged []string
			q.Limit = 1
			for pages := 0; ; pages++ {
				if pages > len(all) {
					t.Fatalf("%+v: more pages than documents", q)
				}
				hits, next, err := s.reader.Search(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				paged = append(paged, titles(hits)...)
				if next == 0 {
					break
				}
				q.After = next
			}
			if !equalStrings(paged, all) || len(all) == 0 {
				t.Errorf("%+v: paged %q, all at once %q", q, paged, all)
			}
		}
	})
}

func TestSearchRefusesBadQueries(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		for _, c := range []struct {
			q     projections.DocQuery
			field string
		}{
			{projections.DocQuery{Text: "!!! ???", Limit: 10}, "q"},
			{projections.DocQuery{Text: "a b c d e f g h i j k l m n o p q", Limit: 10}, "q"},
			{projections.DocQuery{Limit: 0}, "limit"},
			{projections.DocQuery{Limit: projections.MaxSearchLimit + 1}, "limit"},
		} {
			_, _, err := s.reader.Search(context.Background(), c.q)
			var qe *projections.QueryError
			if !errors.As(err, &qe) || qe.Field != c.field {
				t.Errorf("%+v: err = %v, want a QueryError on %s", c.q, err, c.field)
			}
		}
	})
}

// The document lifecycle is DocState.Step's: after the story (duplicate
// outcomes, a cancel with a document in flight, a retry, a late outcome)
// every row has the status and attempt the document-results model gives.
func TestSearchStatusesAgreeWithDocumentResults(t *testing.T) {
	envs := story(t).envs
	mem := projections.NewDocumentResults()
	jobs := projections.NewJobStatus()
	for _, env := range envs {
		if err := mem.Apply(env); err != nil {
			t.Fatal(err)
		}
		if err := jobs.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	want, _, _, _ := mem.Page(context.Background(), jobID, 0, 0)
	job, _, _ := jobs.Get(context.Background(), jobID)
	eachStore(t, func(t *testing.T, s *searchStore) {
		s.apply(envs...)
		hits := s.search(projections.DocQuery{JobID: jobID})
		if len(hits) != len(want) {
			t.Fatalf("%d rows, want %d", len(hits), len(want))
		}
		for _, h := range hits {
			w := want[h.RowID]
			if h.Status != w.Status || h.Attempt != w.Attempts || h.Error != w.Error || !equalStrings(h.Tags, nonNil(w.Tags)) {
				t.Errorf("row %d: %s/%d %q %q, results say %s/%d %q %q", h.RowID, h.Status, h.Attempt, h.Error, h.Tags,
					w.Status, w.Attempts, w.Error, w.Tags)
			}
		}
		st, err := s.reader.Stats(context.Background(), projections.Scope{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		r := st.RecentJobs[0]
		if r.Status != job.Status || r.Processed != job.Processed || r.Failed != job.Failed || r.Cancelled != job.Cancelled {
			t.Errorf("job %+v, job-status says %s %d/%d/%d", r, job.Status, job.Processed, job.Failed, job.Cancelled)
		}
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestHistoryStatsAreScopedToTheOwner(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		library(s)
		s.emit("job-a", events.System, day1.Add(3*time.Hour), events.JobCompleted{Processed: 2, Failed: 1})
		st, err := s.reader.Stats(context.Background(), projections.Scope{Owner: "alice"}, 10)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(st.JobsByStatus)
		if st.TotalJobs != 1 || st.TotalDocuments != 3 || string(got) != `{"completed":1}` || len(st.RecentJobs) != 1 {
			t.Fatalf("alice's stats: %+v", st)
		}
		if r := st.RecentJobs[0]; r.JobID != "job-a" || r.Processed != 2 || r.Failed != 1 || r.FinishedAt == nil {
			t.Fatalf("recent job: %+v", r)
		}
		all, err := s.reader.Stats(context.Background(), projections.Scope{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		got, _ = json.Marshal(all.JobsByStatus)
		if all.TotalJobs != 2 || all.TotalDocuments != 4 || string(got) != `{"completed":1,"processing":1}` ||
			len(all.RecentJobs) != 1 || all.RecentJobs[0].JobID != "job-b" {
			t.Fatalf("everyone's stats: %+v", all)
		}
	})
}

// The SQL summary answers what the in-memory analytics answered, to the
// bucketed percentiles.
func TestSearchSummaryEqualsTheInMemoryAnalytics(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		library(s)
		mem := projections.NewAnalytics()
		for _, env := range s.envs {
			if err := mem.Apply(env); err != nil {
				t.Fatal(err)
			}
		}
		for _, owner := range []string{"", "alice", "bob", "nobody"} {
			got, err := s.reader.Summary(context.Background(), projections.Scope{Owner: owner}, 10)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(mem.Summary(owner, 10))
			if string(g) != string(w) {
				t.Errorf("owner %q:\n sql %s\n mem %s", owner, g, w)
			}
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A job's failure (an invalid key) ends its unfinished documents as
// failed: status and search count them, and so do analytics now, with the
// job's code and reason, once per attempt, as the in-memory analytics do.
func TestAJobsFailureCountsInAnalytics(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		library(s)
		s.emit("job-c", alice, day1, events.DocumentsSubmitted{InputID: "in-c", Documents: []events.Document{
			{Row: 0, FilePath: "e.pdf"}, {Row: 1, FilePath: "f.pdf"}, {Row: 2, FilePath: "g.pdf"},
		}})
		s.emit("job-c", alice, day1, events.JobStarted{InputID: "in-c", Total: 3, Config: events.JobConfig{Model: "m"}})
		at := day1.Add(3 * time.Hour)
		s.emit("job-c", events.Worker("w1"), at, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"water"},
			Metadata: events.TagMetadata{Model: "m", TotalTokens: 10, Calls: 1, DurationMS: 100}})
		s.emit("job-c", events.Worker("w1"), at, events.DocumentStarted{Row: 1, Attempt: 1})
		s.emit("job-c", events.System, at, events.JobFailed{Code: "llm_auth", Reason: "invalid API key for model m"})
		// A late outcome of the document in flight does not count again.
		s.emit("job-c", events.Worker("w1"), at, events.DocumentFailed{Row: 1, Attempt: 1, Error: "late", Code: "late"})
		got, err := s.reader.Summary(context.Background(), projections.Scope{Owner: "alice"}, 10)
		if err != nil {
			t.Fatal(err)
		}
		auth := 0
		for _, c := range got.TopFailureReasons {
			if c.Code == "llm_auth" {
				auth += c.Count
			}
			if c.Code == "late" {
				t.Errorf("the late outcome of an attempt the job's failure ended counted: %+v", c)
			}
		}
		if got.Documents != 6 || auth != 2 {
			t.Errorf("alice's summary: %d documents, %d failed by the job's failure; want 6 and 2 (%+v)", got.Documents, auth, got.TopFailureReasons)
		}
		mem := projections.NewAnalytics()
		for _, env := range s.envs {
			if err := mem.Apply(env); err != nil {
				t.Fatal(err)
			}
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(mem.Summary("alice", 10))
		if string(g) != string(w) {
			t.Errorf("sql %s\n mem %s", g, w)
		}
	})
}
