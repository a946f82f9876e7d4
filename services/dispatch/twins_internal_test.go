package dispatch

import (
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/services/pipeline"
)

// Rows group by source, in row order, at most maxTwins to a leader;
// uploads and jobs without the cache are left alone.
func TestGroupTwins(t *testing.T) {
	cfg := events.JobConfig{Model: "openai/gpt-4o-mini"}
	var tasks []task
	for row := range 250 {
		tasks = append(tasks, task{Config: cfg, Document: events.Document{Row: row, FilePath: "https://example.com/a.pdf"}})
	}
	for row := 250; row < 252; row++ {
		tasks = append(tasks, task{Config: cfg, Document: events.Document{Row: row, FilePath: pipeline.UploadPath(fmt.Sprintf("%064d", 1)), SourceType: fetch.TypeUpload}})
	}
	got := groupTwins(tasks)
	var sizes []int
	for _, g := range got {
		sizes = append(sizes, 1+len(g.Twins))
	}
	if fmt.Sprint(sizes) != "[101 101 48 1 1]" || got[1].Document.Row != 101 || got[1].Twins[0].Row != 102 {
		t.Fatalf("groups of %v", sizes)
	}
	off := false
	cfg.Cache = &off
	for i := range tasks {
		tasks[i].Config = cfg
	}
	if n := len(groupTwins(tasks)); n != len(tasks) {
		t.Fatalf("cache false: %d tasks, want %d", n, len(tasks))
	}
}
