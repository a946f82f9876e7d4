package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

const orgA = "org_a1"

var carol = events.User("carol", "carol@example.com")

// orgLibrary is library plus two jobs of organisation A: carol's (tagged
// "Confidential") and alice's, each one document, both tagged.
func orgLibrary(s *searchStore) {
	library(s)
	at := day1.Add(4 * time.Hour)
	w := events.Worker("w1")
	for _, j := range []struct {
		job   string
		actor events.Actor
		title string
	}{{"job-c", carol, "Railway board minutes"}, {"job-d", alice, "Railway audit memo"}} {
		s.emit(j.job, j.actor, at, events.DocumentsSubmitted{InputID: "in-" + j.job, Documents: []events.Document{
			{Row: 0, Title: j.title, FilePath: "o.pdf"}}})
		s.emit(j.job, j.actor, at, events.JobStarted{InputID: "in-" + j.job, Total: 1, Config: events.JobConfig{Model: "m"}, OrgID: orgA})
		s.emit(j.job, w, at, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"Confidential", "transport"},
			Metadata: events.TagMetadata{Model: "m-org", TotalTokens: 70, Calls: 1, DurationMS: 500}})
	}
}

// A Scope is applied in SQL on every read: documents (through the index
// and without it), history statistics and the analytics summary. A global
// all=true (NoOrg) never counts an organisation's job; an organisation's
// scope counts all of its jobs, or one member's.
func TestSearchScopesByOrganisation(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		orgLibrary(s)
		ctx := context.Background()
		cases := []struct {
			name  string
			scope projections.Scope
			jobs  []string // every job in scope, newest first
		}{
			{"outside organisations", projections.Scope{NoOrg: true}, []string{"job-b", "job-a"}},
			{"organisation", projections.Scope{OrgID: orgA}, []string{"job-d", "job-c"}},
			{"a member of it", projections.Scope{OrgID: orgA, Owner: "alice"}, []string{"job-d"}},
			{"own, in and out of organisations", projections.Scope{Owner: "alice"}, []string{"job-d", "job-a"}},
			{"another organisation", projections.Scope{OrgID: "org_other"}, nil},
			{"everything (tools)", projections.Scope{}, []string{"job-d", "job-c", "job-b", "job-a"}},
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
			// job-c and job-d start at the same time: newest first is by id.
			if st.TotalJobs != len(c.jobs) || !equalStrings(recent, c.jobs) {
				t.Errorf("%s: stats count %d jobs, recent %v, want %v", c.name, st.TotalJobs, recent, c.jobs)
			}
			inScope := map[string]bool{}
			for _, j := range c.jobs {
				inScope[j] = true
			}
			// Every plan: the plain index walk, words, a tag, words and a tag.
			for _, q := range []projections.DocQuery{{}, {Text: "railway"}, {Tag: "transport"}, {Tag: "transport", Text: "railway"}} {
				q.Owner, q.OrgID, q.NoOrg = c.scope.Owner, c.scope.OrgID, c.scope.NoOrg
				seen := map[string]bool{}
				for _, h := range s.search(q) {
					if !inScope[h.JobID] {
						t.Errorf("%s: %+v found %s of %s", c.name, q, h.Title, h.JobID)
					}
					seen[h.JobID] = true
				}
				if q.Text == "" && q.Tag == "" && len(seen) != len(c.jobs) {
					t.Errorf("%s: every document of %v, found those of %v", c.name, c.jobs, seen)
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
				if j == "job-c" || j == "job-d" {
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
