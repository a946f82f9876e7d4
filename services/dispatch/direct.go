package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tagstream/tagstream/events"
	jobpkg "github.com/tagstream/tagstream/services/job"
	"github.com/tagstream/tagstream/services/pipeline"
)

// tailsPerSlot bounds the documents a worker records without a tagging
// slot (cache hits, see probe), per slot: they only append and settle, so
// many may be in flight, but not without limit.
const tailsPerSlot = 4

// probe asks the tagger whether the content cache already holds task t's
// tags, before the API key, the start or the slot's real work. On a miss
// read is what the probe read, for Tag (nil: not probed).
func (w *Worker) probe(ctx context.Context, t task) (out pipeline.TagOutput, hit bool, read *pipeline.Probe) {
	p, ok := w.tagger.(pipeline.CacheProbe)
	if !ok || w.cfg.Cache == nil || !t.Config.CacheOn() {
		return out, false, nil
	}
	owner := w.owner(ctx, t.JobID)
	if owner == "" {
		return out, false, nil
	}
	dctx, cancel := context.WithTimeout(ctx, w.cfg.DocTimeout)
	defer cancel()
	return p.Cached(dctx, pipeline.TagInput{JobID: t.JobID, Attempt: t.Attempt, Document: t.Document,
		Config: t.Config, Owner: owner, Cache: w.cfg.Cache})
}

// recordDirect records an outcome that needed no work of the document's
// own (services/job.DecideDirect): a DocumentTagged from the content
// cache, or a twin's outcome, with no DocumentStarted before it. It gives
// the tagging slot back first (freeSlot) when a tail is free, since all
// that is left is an append.
func (w *Worker) recordDirect(ctx context.Context, t task, ev events.Event, outcome, code string, freeSlot func(), log *slog.Logger) settle {
	defer w.offSlot(freeSlot)()
	began := time.Now()
	v, _, err := w.appendDirect(ctx, t.JobID, t.Document.Row, t.Attempt, ev)
	if err != nil {
		log.Warn("worker: record outcome", "err", err)
		return settleRelease
	}
	if v == settleDone {
		w.cfg.Metrics.DocumentDone(outcome, code, time.Since(began))
	}
	return v
}

// offSlot gives the tagging slot back (freeSlot) when a tail is free, for
// work that only appends and settles; the returned func ends the tail.
func (w *Worker) offSlot(freeSlot func()) func() {
	select {
	case w.tails <- struct{}{}:
		freeSlot()
		return func() { <-w.tails }
	default: // every tail busy: finish on the slot
		return func() {}
	}
}

// appendDirect appends ev, an outcome of row's attempt, as DecideDirect
// allows: settleDone with its sequence once recorded (0 when the attempt
// is over or already has an outcome), settleRelease while the job cannot
// start the attempt (paused).
func (w *Worker) appendDirect(ctx context.Context, jobID string, row, attempt int, ev events.Event) (settle, uint64, error) {
	subject := events.DocSubject(jobID, row)
	// First try: the job as of its last control event (so nothing is
	// recorded once a pause or cancel is in the log), and a document with
	// no event yet, a fresh attempt's usual case, without reading it. A
	// conflict or a doubt reads the document too.
	job, err := w.jobAt(ctx, jobID)
	if err != nil {
		return settleRelease, 0, err
	}
	var last *events.Envelope
	fresh := false
	for i := 0; i < 10; i++ {
		d := job.DecideDirect(last, attempt)
		if d.Verdict != jobpkg.StartNow && !fresh {
			var err error
			if job, last, err = w.docAt(ctx, jobID, subject); err != nil {
				return settleRelease, 0, err
			}
			fresh = true
			continue
		}
		switch d.Verdict {
		case jobpkg.StartNever:
			return settleDone, 0, nil
		case jobpkg.StartLater:
			return settleRelease, 0, nil
		}
		env, err := events.New(jobID, w.actor, ev)
		if err != nil {
			return settleRelease, 0, err
		}
		sctx, cancel := detached(ctx)
		seq, err := w.store.Append(sctx, env, &events.Expect{Subject: subject, Seq: d.Guard})
		cancel()
		if errors.Is(err, events.ErrConflict) {
			// The document or the job moved on: look again.
			if job, last, err = w.docAt(ctx, jobID, subject); err != nil {
				return settleRelease, 0, err
			}
			fresh = true
			continue
		}
		if err != nil {
			return settleRelease, 0, err
		}
		return settleDone, seq, nil
	}
	return settleRelease, 0, errors.New("document kept changing")
}

// docAt reads the job's state and the document's last event (nil: none)
// from the log.
func (w *Worker) docAt(ctx context.Context, jobID, subject string) (*jobpkg.State, *events.Envelope, error) {
	job, err := w.jobAt(ctx, jobID)
	if err != nil {
		return nil, nil, err
	}
	doc, err := w.store.Last(ctx, subject)
	if errors.Is(err, events.ErrNotFound) {
		return job, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return job, &doc, nil
}
