package dispatch

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services/pipeline"
)

// Rows of one job that name the same source (pipeline.SourceKey) are
// twins: the first of them (the leader) is queued with the others in its
// task, and once the leader has its outcome in the log, the worker that
// ran it records the same outcome for each twin (recordDirect: tags with
// cached_from the leader's tagging, or the leader's failure). So the
// source is fetched once per job however many processes run the job's
// tasks, and the model is asked once. A process that dies in between
// leaves the task to be redelivered: the leader is then stale, and its
// twins are recorded from its outcome in the log.
//
// Only jobs whose tags may come from the content cache group twins
// (pipeline.CacheApplies): with cache false every row is tagged on its
// own, as asked (a process still fetches a source once per job, see
// pipeline's fetch memo, but two processes may each fetch it).

// maxTwins bounds the rows one task carries, so a job naming one URL on
// 100,000 rows neither builds a task beyond NATS' payload limit nor
// records all of them in one go: past it, the next row leads a new group.
const maxTwins = 100

// groupTwins folds each twin into its leader's task, in row order.
func groupTwins(tasks []task) []task {
	if len(tasks) < 2 || !pipeline.CacheApplies(tasks[0].Config) {
		return tasks
	}
	leaders := map[string]int{} // source -> index in out of its open group
	out := make([]task, 0, len(tasks))
	for _, t := range tasks {
		key, ok := pipeline.SourceKey(t.Document)
		if !ok {
			out = append(out, t)
			continue
		}
		if i, seen := leaders[key]; seen && len(out[i].Twins) < maxTwins {
			out[i].Twins = append(out[i].Twins, t.Document)
			continue
		}
		leaders[key] = len(out)
		out = append(out, t)
	}
	return out
}

// settleTwins records the outcome of task t's leader for each of its
// twins, once the leader has one of t's attempt in the log; without one
// (the job ended, the attempt is over, another worker holds the task)
// there is nothing to record.
func (w *Worker) settleTwins(ctx context.Context, t task, freeSlot func(), log *slog.Logger) settle {
	leader, err := w.store.Last(ctx, events.DocSubject(t.JobID, t.Document.Row))
	if errors.Is(err, events.ErrNotFound) {
		return settleDone
	}
	if err != nil {
		log.Warn("worker: read the outcome for twin rows", "err", err)
		return settleRelease
	}
	outcome, ok := twinOutcome(leader, t.Attempt)
	if !ok {
		return settleDone
	}
	defer w.offSlot(freeSlot)()
	for _, doc := range t.Twins {
		ev, kind, code := outcome(doc.Row)
		v, seq, err := w.appendDirect(ctx, t.JobID, doc.Row, t.Attempt, ev)
		if err != nil {
			log.Warn("worker: record a twin row's outcome", "twin_row", doc.Row, "err", err)
			return settleRelease
		}
		if v != settleDone {
			return v // paused: the task comes back, and the rows left with it
		}
		if seq != 0 {
			w.cfg.Metrics.DocumentDone(kind, code, 0)
		}
	}
	return settleDone
}

// twinOutcome returns, when leader is an outcome of attempt, the same
// outcome for another row: its tags, with cached_from the tagging they
// came from, or its failure; no model usage is counted twice.
func twinOutcome(leader events.Envelope, attempt int) (func(row int) (events.Event, string, string), bool) {
	ev, err := leader.Decode()
	if err != nil {
		return nil, false
	}
	switch e := ev.(type) {
	case *events.DocumentTagged:
		if e.Attempt != attempt {
			return nil, false
		}
		md := withoutUsage(e.Metadata)
		if md.CachedFrom == 0 {
			md.CachedFrom = leader.Seq
		}
		return func(row int) (events.Event, string, string) {
			return events.DocumentTagged{Row: row, Attempt: attempt, Tags: e.Tags, Metadata: md}, "tagged", ""
		}, true
	case *events.DocumentFailed:
		if e.Attempt != attempt {
			return nil, false
		}
		md := withoutUsage(e.Metadata)
		return func(row int) (events.Event, string, string) {
			return events.DocumentFailed{Row: row, Attempt: attempt, Error: e.Error, Code: e.Code, Metadata: md}, "failed", e.Code
		}, true
	}
	return nil, false
}

// withoutUsage is md without what the leader's own tagging cost.
func withoutUsage(md events.TagMetadata) events.TagMetadata {
	md.PromptTokens, md.CompletionTokens, md.TotalTokens, md.Calls = 0, 0, 0, 0
	md.CostUSD, md.CostKnown, md.DurationMS = 0, nil, 0
	return md
}
