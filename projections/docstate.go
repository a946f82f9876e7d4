package projections

import "github.com/tagstream/tagstream/events"

// Document statuses as the API reports them.
const (
	DocPending    = "pending"
	DocProcessing = "processing"
	DocSuccess    = "success"
	DocFailed     = "failed"
	DocCancelled  = "cancelled"
)

// docState is one document's position in its lifecycle. Both read models
// move documents with the same rules, defined here once.
type docState struct {
	Status  string `json:"status"`
	Attempt int    `json:"attempt"`
	// Outcome is set by the first outcome event of Attempt: later ones of
	// the same attempt (a duplicate, a second worker's) change nothing.
	Outcome bool `json:"outcome,omitempty"`
}

func newDocState() docState { return docState{Status: DocPending, Attempt: 1} }

func terminalDoc(s string) bool { return s == DocSuccess || s == DocFailed || s == DocCancelled }

// onDocEvent returns the state after a document event, and whether it
// changed. Events of older attempts are ignored, and so is every outcome
// after the first of an attempt; a late outcome of an in-flight document
// replaces the cancelled/failed mark its job's end gave it, because the
// work really happened. The same rules as services/job.Doc.OnDocEvent
// (checked by services/job's tests).
func (d docState) onDocEvent(eventType string, attempt int) (docState, bool) {
	if attempt < d.Attempt {
		return d, false
	}
	orig := d
	if attempt > d.Attempt {
		d = docState{Status: DocPending, Attempt: attempt}
	} else if d.Outcome {
		return orig, false
	}
	next := d
	switch eventType {
	case events.TypeDocumentStarted:
		if terminalDoc(d.Status) {
			return orig, false // a redelivered start of an attempt that already ended
		}
		next.Status = DocProcessing
	case events.TypeDocumentTagged:
		next.Status, next.Outcome = DocSuccess, true
	case events.TypeDocumentFailed:
		next.Status, next.Outcome = DocFailed, true
	case events.TypeDocumentReleased:
		if terminalDoc(d.Status) {
			return orig, false
		}
		next.Status = DocPending // given back on purpose; another start follows
	default:
		return orig, false
	}
	return next, next != orig
}

// onJobEnd returns the state a job's cancel or failure leaves an unfinished
// document in.
func (d docState) onJobEnd(eventType string) (docState, bool) {
	if terminalDoc(d.Status) {
		return d, false
	}
	switch eventType {
	case events.TypeJobCancelled:
		d.Status = DocCancelled
	case events.TypeJobFailed:
		d.Status = DocFailed
	default:
		return d, false
	}
	return d, true
}

// onRetry returns the state of a document named in a JobRetried.
func (d docState) onRetry(attempt int) docState {
	return docState{Status: DocPending, Attempt: attempt}
}

// counts tallies terminal documents.
type counts struct {
	Processed, Failed, Cancelled int
}

func (c *counts) move(from, to string) {
	c.add(from, -1)
	c.add(to, 1)
}

func (c *counts) add(status string, n int) {
	switch status {
	case DocSuccess:
		c.Processed += n
	case DocFailed:
		c.Failed += n
	case DocCancelled:
		c.Cancelled += n
	}
}
