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

// DocState is one document's position in its lifecycle. Both read models
// and the job decider move documents with the same rules, defined here once.
type DocState struct {
	Status  string `json:"status"`
	Attempt int    `json:"attempt"`
	// Outcome is set by the first outcome event of Attempt: later ones of
	// the same attempt (a duplicate, a second worker's) change nothing.
	Outcome bool `json:"outcome,omitempty"`
}

func newDocState() DocState { return DocState{Status: DocPending, Attempt: 1} }

// TerminalDoc reports whether a document status is final for its attempt.
func TerminalDoc(s string) bool { return s == DocSuccess || s == DocFailed || s == DocCancelled }

// Step returns the state after a document event and whether the event
// applies to this document at all: events of older attempts are ignored,
// and so is every outcome after the first of an attempt; a late outcome of
// an in-flight document replaces the cancelled/failed mark its job's end
// gave it, because the work really happened. This is the one statement of
// the document lifecycle: the read models and services/job's decider both
// step documents through it.
func (d DocState) Step(eventType string, attempt int) (DocState, bool) {
	if attempt < d.Attempt {
		return d, false
	}
	if attempt > d.Attempt {
		d = DocState{Status: DocPending, Attempt: attempt}
	} else if d.Outcome {
		return d, false
	}
	switch eventType {
	case events.TypeDocumentStarted:
		if TerminalDoc(d.Status) {
			return d, false // a redelivered start of an attempt that already ended
		}
		d.Status = DocProcessing
	case events.TypeDocumentTagged:
		d.Status, d.Outcome = DocSuccess, true
	case events.TypeDocumentFailed:
		d.Status, d.Outcome = DocFailed, true
	case events.TypeDocumentReleased:
		if TerminalDoc(d.Status) {
			return d, false
		}
		d.Status = DocPending // given back on purpose; another start follows
	default:
		return d, false
	}
	return d, true
}

// onDocEvent is Step, reporting whether the state changed.
func (d DocState) onDocEvent(eventType string, attempt int) (DocState, bool) {
	next, applied := d.Step(eventType, attempt)
	if !applied {
		return d, false
	}
	return next, next != d
}

// onJobEnd returns the state a job's cancel or failure leaves an unfinished
// document in.
func (d DocState) onJobEnd(eventType string) (DocState, bool) {
	if TerminalDoc(d.Status) {
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
func (d DocState) onRetry(attempt int) DocState {
	return DocState{Status: DocPending, Attempt: attempt}
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
