package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// historyNames mix case, non-ASCII case (Ä/ä) and Hindi, which has no
// case: q must find them however they are typed.
var historyNames = []string{"", "Quarterly Report", "quarterly REPORT draft", "वार्षिक रिपोर्ट", "रिपोर्ट Ärger",
	"Straße ÄÖÜ", "100%_done"}

// historyLog is n jobs of four owners in and outside three
// organisations, three to a creation instant (ties the id must break),
// each left pending, processing, paused, completed (some with failed
// documents), failed, cancelled, or failed and retried under a new name.
// Their times start at from.
func historyLog(tb testing.TB, n, first int, from time.Time, seed uint64) []events.Envelope {
	rng := rand.New(rand.NewPCG(seed, 11))
	var envs []events.Envelope
	add := func(job, owner string, at time.Time, ev events.Event) {
		env, err := events.New(job, events.User(owner, owner+"@example.com"), ev)
		if err != nil {
			tb.Fatal(err)
		}
		env.Time = at
		envs = append(envs, env)
	}
	for i := first; i < first+n; i++ {
		job := fmt.Sprintf("job-%05d", i)
		if i%4 == 1 {
			job = fmt.Sprintf("Job_%05d", i) // ids differ in case and use _
		}
		owner := fmt.Sprintf("u%d", rng.IntN(4))
		org := []string{"", "", "org-a", "org-b", "org-c"}[rng.IntN(5)]
		at := from.Add(time.Duration((i-first)/3) * time.Second)
		cfg := events.JobConfig{Model: "m1", NumTags: 3, Name: historyNames[rng.IntN(len(historyNames))]}
		add(job, owner, at, events.JobStarted{Total: 2, OrgID: org, Config: cfg})
		later := at.Add(time.Millisecond)
		switch rng.IntN(8) {
		case 1:
			add(job, owner, later, events.DocumentStarted{Row: 0, Attempt: 1})
		case 2:
			add(job, owner, later, events.JobPaused{Reason: "lunch"})
		case 3:
			add(job, owner, later, events.JobCompleted{Processed: 2})
		case 4:
			add(job, owner, later, events.DocumentFailed{Row: 1, Attempt: 1, Error: "bad pdf"})
			add(job, owner, later, events.JobCompleted{Processed: 1, Failed: 1})
		case 5:
			add(job, owner, later, events.JobFailed{Reason: "invalid key"})
		case 6:
			add(job, owner, later, events.JobCancelled{Reason: "enough"})
		case 7:
			add(job, owner, later, events.JobFailed{Reason: "invalid key"})
			cfg.Name = "Retried RÉSUMÉ"
			add(job, owner, later, events.JobRetried{Attempt: 2, Rows: []int{0, 1}, Config: cfg})
		}
	}
	return envs
}

// historyFilters are the scopes, conditions and orders the history asks
// for; each is asked with every sort.
func historyFilters() []Filter {
	scopes := []Filter{
		{},
		{Readable: &Readable{OwnerID: "u1"}},
		{OrgID: "org-a", Readable: &Readable{OwnerID: "u1"}},
		{OrgID: "org-a", Readable: &Readable{OwnerID: "u1", Orgs: []string{"org-a"}}},
		{Readable: &Readable{OwnerID: "u2", Orgs: []string{"org-b", "org-c"}, NoOrg: true}},
		{Readable: &Readable{NoOrg: true}},
		{Readable: &Readable{}},
		{OwnerID: "u3"},
	}
	conds := []Filter{
		{},
		{Status: []string{events.StatusCompleted}},
		{Status: []string{events.StatusPending, events.StatusProcessing, events.StatusPaused}},
		{Failed: true},
		{Failed: true, Status: []string{events.StatusCompleted}},
		{Query: "report"}, {Query: "REPORT"}, {Query: "रिपोर्ट"}, {Query: "ärger"}, {Query: "ÄRGER"},
		{Query: "résumé"}, {Query: "job_0"}, {Query: "JOB-0001"}, {Query: "%_"}, {Query: "_"}, {Query: "nothing"},
	}
	var out []Filter
	for _, s := range scopes {
		for _, c := range conds {
			for _, by := range []string{"", SortOldest, SortStatus} {
				f := s
				f.Status, f.Failed, f.Query, f.Sort = c.Status, c.Failed, c.Query, by
				out = append(out, f)
			}
		}
	}
	return out
}

type jobLister interface {
	List(ctx context.Context, f Filter) ([]Job, error)
}

// pageThrough lists f page by page as the history does (one more than
// the page to know a next one exists, the last row's place as cursor)
// and returns the pages concatenated; between pages it calls between.
func pageThrough(t *testing.T, l jobLister, f Filter, limit int, between func(page int)) []Job {
	t.Helper()
	var all []Job
	seen := map[string]bool{}
	for page := 0; ; page++ {
		f.Limit = limit + 1
		got, err := l.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) <= limit {
			return append(all, got...)
		}
		for _, j := range got[:limit] {
			if seen[j.ID] {
				t.Fatalf("%+v: job %s on two pages", f, j.ID)
			}
			seen[j.ID] = true
		}
		all = append(all, got[:limit]...)
		at := CursorOf(got[limit-1])
		f.After = &at
		if between != nil {
			between(page)
		}
	}
}

func ids(jobs []Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

// The SQL List answers every history filter as the in-memory model does,
// on both stores; paged through with cursors it gives the unpaged list,
// with no job twice and none missing.
func TestJobListSQLEqualsReference(t *testing.T) {
	base := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	log := logOf(t, historyLog(t, 240, 0, base, 1)...)
	ref := NewJobStatus()
	if err := NewRunner(log, ref).CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := caughtUp(t, open(), log, JobStatusModel{})
		q := NewJobQueries(r)
		nonEmpty := 0
		for _, f := range historyFilters() {
			want, _ := ref.List(ctx, f)
			got, err := q.List(ctx, f)
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			if !reflect.DeepEqual(ids(got), ids(want)) {
				t.Fatalf("%+v (readable %+v):\nSQL  %v\nwant %v", f, f.Readable, ids(got), ids(want))
			}
			if len(want) > 0 {
				nonEmpty++
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%+v: same ids, other contents", f)
				}
			}
			// The analytics' jobs by status, counted in SQL, are the
			// list's (a cursor or a limit does not narrow a count).
			wantCounts := map[string]int{}
			for _, j := range want {
				wantCounts[j.Status]++
			}
			cf := f
			cf.Limit, cf.After = 3, &Cursor{Created: base, ID: "job-00000"}
			if counts, err := q.CountByStatus(ctx, cf); err != nil || !reflect.DeepEqual(counts, wantCounts) {
				t.Fatalf("%+v: CountByStatus %v (%v), the list counts %v", f, counts, err, wantCounts)
			}
			if f.Query != "" && f.Query != "report" {
				continue // paging does not depend on the condition
			}
			for _, limit := range []int{1, 7} {
				if limit == 1 && f.Readable != nil {
					continue
				}
				paged := pageThrough(t, q, f, limit, nil)
				if !reflect.DeepEqual(ids(paged), ids(want)) {
					t.Fatalf("%+v paged by %d:\ngot  %v\nwant %v", f, limit, ids(paged), ids(want))
				}
				if refPaged := pageThrough(t, ref, f, limit, nil); !reflect.DeepEqual(ids(refPaged), ids(want)) {
					t.Fatalf("%+v: the reference pages by %d differently", f, limit)
				}
			}
		}
		if nonEmpty < len(historyFilters())*3/4 {
			t.Fatalf("only %d filters match any job: the log does not exercise them", nonEmpty)
		}
	})
}

// Jobs started while someone pages through the history (newest first)
// do not shift the pages: the cursor's place holds, and the pages give
// exactly the jobs there were when the first was read.
func TestJobListPagesStayStableWhileJobsArrive(t *testing.T) {
	base := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	first := historyLog(t, 90, 0, base, 2)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		log := logOf(t, first...)
		r := caughtUp(t, open(), log, JobStatusModel{})
		for _, f := range []Filter{{}, {Readable: &Readable{OwnerID: "u1", Orgs: []string{"org-a"}, NoOrg: true}}} {
			want, err := r.jobQueries().List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			lister := r.jobQueries()
			paged := pageThrough(t, lister, f, 10, func(page int) {
				// Later jobs (and a new runner catching up to them,
				// as after a restart) between every two pages.
				more := historyLog(t, 3, len(log), base.Add(time.Hour+time.Duration(len(log))*time.Second), uint64(page))
				log = logOf(t, append(append([]events.Envelope{}, log...), more...)...)
				r = NewSQLRunner(open(), log, JobStatusModel{})
				if err := r.Open(ctx); err != nil {
					t.Fatal(err)
				}
				if err := r.CatchUp(ctx); err != nil {
					t.Fatal(err)
				}
				lister.rd = r
			})
			if !reflect.DeepEqual(ids(paged), ids(want)) {
				t.Fatalf("%+v: pages while jobs arrive:\ngot  %v\nwant %v", f.Readable, ids(paged), ids(want))
			}
		}
	})
}
func (r *SQLRunner) jobQueries() *JobQueries { return NewJobQueries(r) }

// A job name and a q typed in different Unicode forms of the same
// letters (a precomposed nukta letter or a decomposed one, é as one code
// point or e and an accent) find each other, as in document search.
func TestJobHistoryQueryIgnoresUnicodeForm(t *testing.T) {
	base := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	var envs []events.Envelope
	for i, name := range []string{"\u095Bरूरी circular", "दस्तावेज़ जांच", "Re\u0301sume\u0301 notes", "Résumé draft", "other"} {
		env, err := events.New(fmt.Sprintf("job-%05d", i), events.User("u1", "u1@example.com"),
			events.JobStarted{Total: 1, Config: events.JobConfig{Model: "m1", NumTags: 3, Name: name}})
		if err != nil {
			t.Fatal(err)
		}
		env.Time = base.Add(time.Duration(i) * time.Second)
		envs = append(envs, env)
	}
	log := logOf(t, envs...)
	cases := []struct {
		q    string
		want []string // newest first
	}{
		{"\u091c\u093cरूरी", []string{"job-00000"}},    // ज + ़ finds ज़ (U+095B)
		{"दस्तावे\u095B", []string{"job-00001"}},       // U+095B finds ज + ़
		{"résumé", []string{"job-00003", "job-00002"}}, // precomposed finds decomposed
		{"RE\u0301SUME\u0301", []string{"job-00003", "job-00002"}},
	}
	ref := NewJobStatus()
	if err := NewRunner(log, ref).CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := caughtUp(t, open(), log, JobStatusModel{})
		for _, c := range cases {
			for name, l := range map[string]jobLister{"SQL": NewJobQueries(r), "memory": ref} {
				got, err := l.List(ctx, Filter{Query: c.q})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(ids(got), c.want) {
					t.Errorf("%s: q=%+q: got %v, want %v", name, c.q, ids(got), c.want)
				}
			}
		}
	})
}
