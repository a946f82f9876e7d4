package memstore_test

import (
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/memstore"
	"github.com/tagstream/tagstream/events/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) events.Store { return memstore.New() })
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		filter, subject string
		want            bool
	}{
		{"jobs.>", "jobs.a.job", true},
		{"jobs.>", "jobs", false},
		{"jobs.*.job", "jobs.a.job", true},
		{"jobs.*.job", "jobs.a.doc.1", false},
		{"jobs.a.>", "jobs.a.doc.1", true},
		{"jobs.a.>", "jobs.ab.job", false},
		{"jobs.a.job", "jobs.a.job", true},
		{"jobs.a.job", "jobs.a.job.x", false},
		{"jobs.a.doc.*", "jobs.a.doc.3", true},
	} {
		if got := memstore.Match(c.filter, c.subject); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.subject, got, c.want)
		}
	}
}
