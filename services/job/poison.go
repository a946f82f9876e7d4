package job

import (
	"encoding/json"
	"fmt"

	"github.com/tagstream/tagstream/events"
)

// PoisonAfter is how many starts of one document attempt may end without
// an outcome before the document is quarantined. A start without an
// outcome that is followed by another start of the same attempt means the
// process holding it died (or froze past the task's ack wait, or was
// stopped past its shutdown grace): its heartbeat stopped and JetStream
// gave the task to the next worker. Three such deaths in a row are not
// bad luck; a fourth start would only take the next process down too.
const PoisonAfter = 3

// CodePoison is the failure code of a quarantined document.
const CodePoison = "poison"

// Suspect reports whether a document's last event makes a task of the
// given attempt suspect: it is a start of that attempt, which ended
// without an outcome, so the process that started it probably died (see
// PoisonAfter). A suspect is run alone, then quarantined if it keeps dying.
func Suspect(last events.Envelope, attempt int) bool {
	if last.Type != events.TypeDocumentStarted {
		return false
	}
	var a struct {
		Attempt int `json:"attempt"`
	}
	return json.Unmarshal(last.Data, &a) == nil && a.Attempt == attempt
}

// FoldDoc folds one document's events, in log order (its document
// subject), into its position: the same rules the job fold uses.
func FoldDoc(evs []events.Envelope) Doc {
	d := Doc{Status: DocPending, Attempt: 1}
	var last uint64
	for _, env := range evs {
		if env.Seq != 0 && env.Seq <= last {
			continue // read twice
		}
		last = max(last, env.Seq)
		var a struct {
			Attempt int    `json:"attempt"`
			Code    string `json:"code"` // in the clear in sealed events too
		}
		if err := json.Unmarshal(env.Data, &a); err != nil {
			continue
		}
		t := env.Type
		if t == events.TypeDocumentReleased {
			t = releasedAs(a.Code)
		}
		d, _ = d.OnDocEvent(t, a.Attempt)
	}
	return d
}

// Quarantine decides, before a worker starts the document again, whether
// attempt of the document at row has died too often to be tried again. If
// so it returns the DocumentFailed that ends it; the worker appends it in
// place of a DocumentStarted, and the job goes on without it.
func (d Doc) Quarantine(row, attempt int) (events.DocumentFailed, bool) {
	if d.Attempt != attempt || d.Outcome || d.Starts < PoisonAfter {
		return events.DocumentFailed{}, false
	}
	return events.DocumentFailed{Row: row, Attempt: attempt, Code: CodePoison,
		Error: fmt.Sprintf("quarantined: the process tagging this document stopped without an outcome %d times "+
			"(crashed, was killed or ran out of memory); it was not tried again so it cannot take the service down. "+
			"Check the document, then retry the job if it should be tagged", d.Starts)}, true
}

// Quarantine is Doc.Quarantine on the folded job (documents tracked).
func (s *State) Quarantine(row, attempt int) (events.DocumentFailed, bool) {
	if row < 0 || row >= len(s.Docs) {
		return events.DocumentFailed{}, false
	}
	return s.Docs[row].Quarantine(row, attempt)
}
