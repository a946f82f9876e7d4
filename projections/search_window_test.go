package projections_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// TestSearchPagesAcrossTheOwnersWindow covers both statements of a scoped
// search on PostgreSQL (and the same answers from SQLite): with a page of
// one, the window of the owner's newest documents is 40 of alice's 120,
// so a word is found there on some pages and only by the one statement
// on others (every50 matches once in the window, twice before it), and
// every page must still be the matches in id order, bob's never among
// them.
func TestSearchPagesAcrossTheOwnersWindow(t *testing.T) {
	eachStore(t, func(t *testing.T, s *searchStore) {
		type doc struct {
			owner, title string
		}
		var all []doc // in id order: a job's rows get consecutive ids at its start
		job := func(id string, owner events.Actor, n int, at time.Time) {
			docs := make([]events.Document, n)
			for i := range docs {
				title := "doc" + strconv.Itoa(len(all))
				for _, k := range []int{2, 7, 50} {
					if len(all)%k == 3%k {
						title += " every" + strconv.Itoa(k)
					}
				}
				docs[i] = events.Document{Row: i, Title: title, FilePath: id + ".pdf"}
				all = append(all, doc{owner.ID, title})
			}
			s.emit(id, owner, at, events.DocumentsSubmitted{InputID: "in-" + id, Documents: docs})
			s.emit(id, owner, at, events.JobStarted{InputID: "in-" + id, Total: n, Config: events.JobConfig{Model: "m"}})
		}
		job("a1", alice, 60, day1)
		job("b1", bob, 50, day1.Add(time.Hour))
		job("a2", alice, 60, day1.Add(2*time.Hour))
		for _, word := range []string{"every2", "every7", "every50"} {
			var want []string
			for i := len(all) - 1; i >= 0; i-- {
				if all[i].owner == "alice" && containsWord(all[i].title, word) {
					want = append(want, all[i].title)
				}
			}
			if len(want) < 2 {
				t.Fatalf("%s: %d matches, the test needs some in the window and some older", word, len(want))
			}
			for _, limit := range []int{1, 3, 50} {
				q := projections.DocQuery{Owner: "alice", Text: word, Limit: limit}
				var got []string
				for pages := 0; ; pages++ {
					if pages > len(want) {
						t.Fatalf("%s, limit %d: more pages than matches", word, limit)
					}
					hits, next, err := s.reader.Search(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, titles(hits)...)
					if next == 0 {
						break
					}
					q.After = next
				}
				if !equalStrings(got, want) {
					t.Errorf("%s, limit %d: got %q, want %q", word, limit, got, want)
				}
			}
		}
	})
}

func containsWord(title, word string) bool {
	for _, w := range strings.Fields(title) {
		if w == word {
			return true
		}
	}
	return false
}
