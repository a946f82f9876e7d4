package projections_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

const orgA, orgB = "org_a1", "org_b1"

var carol = events.User("carol", "carol@example.com")

// orgLibrary is library plus two jobs of organisation A, carol's and
// alice's, and bob's of organisation B: each one document, tagged
// "Confidential" and "transport".
func orgLibrary(s *searchStore) {
	library(s)
	at := day1.Add(4 * time.Hour)
	w := events.Worker("w1")
	for _, j := range []struct {
		job   string
		actor events.Actor
		org   string
		title string
	}{{"job-c", carol, orgA, "Railway board minutes"}, {"job-d", alice, orgA, "Railway audit memo"},
		{"job-e", bob, orgB, "Railway fares memo"}} {
		s.emit(j.job, j.actor, at, events.DocumentsSubmitted{InputID: "in-" + j.job, Documents: []events.Document{
			{Row: 0, Title: j.title, FilePath: "o.pdf"}}})
		s.emit(j.job, j.actor, at, events.JobStarted{InputID: "in-" + j.job, Total: 1, Config: events.JobConfig{Model: "m"}, OrgID: j.org})
		s.emit(j.job, w, at, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"Confidential", "transport"},
			Metadata: events.TagMetadata{Model: "m-org", TotalTokens: 70, Calls: 1, DurationMS: 500}})
	}
}

// A Scope is applied in SQL on every read: documents (through the index
// and without it, page by page), history statistics and the analytics
// summary. The scopes are those the HTTP reads build (internal/httpapi
// readable): all=true is the caller's own jobs, every job of the
// organisations where it reads them all and, for a global auditor, every
// job outside organisations; a global role never reaches into an
// organisation by itself.
func TestSearchScopesByOrganisation(t *testing.T) {
	own := func(id string) *projections.Readable { return &projections.Readable{OwnerID: id} }
	eachStore(t, func(t *testing.T, s *searchStore) {
		orgLibrary(s)
		ctx := context.Background()
		cases := []struct {
			name  string
			scope projections.Scope
			jobs  []string // every job in scope, newest first
		}{
			{"a global auditor's all=true, owning nothing", projections.Scope{Readable: &projections.Readable{OwnerID: "zed", NoOrg: true}},
				[]string{"job-b", "job-a"}},
			{"all=true of a member of A, admin of B and global auditor",
				projections.Scope{Readable: &projections.Readable{OwnerID: "alice", Orgs: []string{orgB}, NoOrg: true}},
				[]string{"job-e", "job-d", "job-b", "job-a"}},
			{"all=true of an admin of A and B without a global role",
				projections.Scope{Readable: &projections.Readable{OwnerID: "carol", Orgs: []string{orgA, orgB}}},
				[]string{"job-e", "job-d", "job-c"}},
			{"all=true of a member without a global role: own, in and out of organisations", projections.Scope{Readable: own("alice")},
				[]string{"job-d", "job-a"}},
			{"org_id= of its admin", projections.Scope{OrgID: orgA, Readable: &projections.Readable{OwnerID: "zed", Orgs: []string{orgA}}},
				[]string{"job-d", "job-c"}},
			{"org_id= of a member", projections.Scope{OrgID: orgA, Readable: own("alice")}, []string{"job-d"}},
			{"another organisation", projections.Scope{OrgID: "org_other", Readable: own("alice")}, nil},
			{"a caller who may read nothing", projections.Scope{Readable: &projections.Readable{}}, nil},
			{"one owner (tools)", projections.Scope{Owner: "alice"}, []string{"job-d", "job-a"}},
			{"everything (tools)", projections.Scope{}, []string{"job-e", "job-d", "job-c", "job-b", "job-a"}},
		}
		for _, c := range cases {
			st, err := s.reader.Stats(ctx, c.scope, 10)
			if err != nil {
				t.Fatal(err)
			}
			var recent []string
			for _, r := range st.RecentJobs {
				recent = append(recent, r.JobID)
			}
			// job-c, job-d and job-e start at the same time: newest first is by id.
			if st.TotalJobs != len(c.jobs) || !equalStrings(recent, c.jobs) {
				t.Errorf("%s: stats count %d jobs, recent %v, want %v", c.name, st.TotalJobs, recent, c.jobs)
			}
			// Every plan: the plain index walk, words, a tag, words and a
			// tag. Every job has a document tagged transport with railway
			// in its title, so each plan finds every job in scope; a page
			// of one at a time walks the same documents as one page.
			for _, q := range []projections.DocQuery{{}, {Text: "railway"}, {Tag: "transport"}, {Tag: "transport", Text: "railway"}} {
				q.Owner, q.OrgID, q.Readable = c.scope.Owner, c.scope.OrgID, c.scope.Readable
				whole := s.search(q)
				if got := hitJobs(whole); !equalStrings(got, c.jobs) {
					t.Errorf("%s: %+v found the documents of %v, want %v", c.name, q, got, c.jobs)
				}
				if paged := s.searchPaged(q, 1); !equalHits(paged, whole) {
					t.Errorf("%s: %+v one by one walks %v, one page holds %v", c.name, q, hitIDs(paged), hitIDs(whole))
				}
			}
			sum, err := s.reader.Summary(ctx, c.scope, 10)
			if err != nil {
				t.Fatal(err)
			}
			tags := map[string]int{}
			for _, tc := range sum.TopTags {
				tags[tc.Value] = tc.Count
			}
			orgDocs := 0
			for _, j := range c.jobs {
				if j == "job-c" || j == "job-d" || j == "job-e" {
					orgDocs++
				}
			}
			if tags["Confidential"] != orgDocs {
				t.Errorf("%s: top tags %v, want Confidential %d times", c.name, sum.TopTags, orgDocs)
			}
			orgModel := false
			for _, m := range sum.Models {
				orgModel = orgModel || m.Model == "m-org"
			}
			if orgModel != (orgDocs > 0) {
				t.Errorf("%s: models %v (organisation's model counted: %v, want %v)", c.name, sum.Models, orgModel, orgDocs > 0)
			}
		}
	})
}

// searchPaged is every hit of q, read limit at a time from the cursor.
func (s *searchStore) searchPaged(q projections.DocQuery, limit int) []projections.DocHit {
	s.t.Helper()
	var out []projections.DocHit
	q.Limit = limit
	for pages := 0; ; pages++ {
		if pages > 100 {
			s.t.Fatalf("search %+v: paging does not end", q)
		}
		hits, next, err := s.reader.Search(context.Background(), q)
		if err != nil {
			s.t.Fatalf("search %+v: %v", q, err)
		}
		if next != 0 && len(hits) != limit {
			s.t.Fatalf("search %+v: a page of %d before the last holds %d", q, limit, len(hits))
		}
		out = append(out, hits...)
		if next == 0 {
			return out
		}
		q.After = next
	}
}

// hitJobs is the jobs of hits, each once, in the order first seen.
func hitJobs(hits []projections.DocHit) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range hits {
		if !seen[h.JobID] {
			seen[h.JobID] = true
			out = append(out, h.JobID)
		}
	}
	return out
}

func hitIDs(hits []projections.DocHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.JobID + "/" + strconv.Itoa(h.RowID)
	}
	return out
}

func equalHits(a, b []projections.DocHit) bool { return equalStrings(hitIDs(a), hitIDs(b)) }
