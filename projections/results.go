package projections

import (
	"context"
	"encoding/json"
	"sort"
	"sync"

	"github.com/tagstream/tagstream/events"
)

// DocumentResultsName is the document-results model's consumer name.
const DocumentResultsName = "document-results"

// Result is one document's row in a job's results.
type Result struct {
	events.Document
	Status   string              `json:"status"`
	Attempts int                 `json:"attempts"`
	Tags     []string            `json:"tags"`
	Error    string              `json:"error,omitempty"`
	Code     string              `json:"error_code,omitempty"`
	Metadata *events.TagMetadata `json:"metadata,omitempty"`
	Seq      uint64              `json:"-"` // sequence of the last event that changed the row
	// outcome: an outcome event of Attempts was applied (the first wins).
	outcome bool
}

func (r *Result) state() DocState { return DocState{r.Status, r.Attempts, r.outcome} }

func (r *Result) setState(d DocState) {
	r.Status, r.Attempts, r.outcome = d.Status, d.Attempt, d.Outcome
}

// pendingInputs are a job's submitted chunks by input id and chunk: by
// job, as jobs started at once from the same documents share input ids.
type pendingInputs map[string]map[int][]events.Document

// DocumentResults is the read model of every document's outcome.
type DocumentResults struct {
	mu     sync.RWMutex
	jobs   map[string][]Result
	inputs map[string]pendingInputs // by job, until its JobStarted claims them
	seqs   map[string]uint64        // job id -> newest event applied
}

var _ Projection = (*DocumentResults)(nil)

// NewDocumentResults returns an empty model.
func NewDocumentResults() *DocumentResults {
	return &DocumentResults{jobs: map[string][]Result{}, inputs: map[string]pendingInputs{}, seqs: map[string]uint64{}}
}

// Name implements Projection.
func (p *DocumentResults) Name() string { return DocumentResultsName }

// Apply implements Projection.
func (p *DocumentResults) Apply(env events.Envelope) error {
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// An event seen again changes nothing.
	if env.Seq != 0 {
		if env.Seq <= p.seqs[env.JobID] {
			return nil
		}
		p.seqs[env.JobID] = env.Seq
	}
	switch e := ev.(type) {
	case *events.DocumentsSubmitted:
		job := p.inputs[env.JobID]
		if job == nil {
			job = pendingInputs{}
			p.inputs[env.JobID] = job
		}
		if job[e.InputID] == nil {
			job[e.InputID] = map[int][]events.Document{}
		}
		job[e.InputID][e.Chunk] = e.Documents
	case *events.JobStarted:
		if _, exists := p.jobs[env.JobID]; !exists {
			p.jobs[env.JobID] = p.claim(env.JobID, e)
		}
	case *events.DocumentStarted:
		p.docEvent(env, e.Row, e.Attempt, func(r *Result) {})
	case *events.DocumentReleased:
		p.docEvent(env, e.Row, e.Attempt, func(r *Result) {})
	case *events.DocumentTagged:
		p.docEvent(env, e.Row, e.Attempt, func(r *Result) {
			r.Tags, r.Error, r.Code = e.Tags, "", ""
			md := e.Metadata
			r.Metadata = &md
		})
	case *events.DocumentFailed:
		p.docEvent(env, e.Row, e.Attempt, func(r *Result) {
			r.Tags, r.Error, r.Code = nil, e.Error, e.Code
			md := e.Metadata
			r.Metadata = &md
		})
	case *events.JobCancelled:
		p.endDocs(env, "")
	case *events.JobFailed:
		p.endDocs(env, e.Reason)
	case *events.JobErased:
		// As scrubResults (erase_scrub.go): the rows, statuses and
		// metadata stay, the document data goes.
		rows := p.jobs[env.JobID]
		for i := range rows {
			rows[i].Document = erasedDocument(rows[i].Document)
			rows[i].Tags, rows[i].Error = nil, ""
		}
	case *events.JobRetried:
		rows := p.jobs[env.JobID]
		for _, row := range e.Rows {
			if row >= 0 && row < len(rows) && rows[row].Attempts < e.Attempt {
				rows[row].setState(rows[row].state().onRetry(e.Attempt))
				rows[row].Seq = env.Seq
			}
		}
	}
	return nil
}

// claim builds a job's rows from its submitted chunks, in row order.
func (p *DocumentResults) claim(jobID string, s *events.JobStarted) []Result {
	rows := make([]Result, s.Total)
	for i := range rows {
		rows[i] = Result{Document: events.Document{Row: i}, Status: DocPending, Attempts: 1}
	}
	for _, docs := range p.inputs[jobID][s.InputID] {
		for _, d := range docs {
			if d.Row >= 0 && d.Row < len(rows) {
				rows[d.Row].Document = d
			}
		}
	}
	delete(p.inputs, jobID) // a losing concurrent start's chunks too
	return rows
}

func (p *DocumentResults) docEvent(env events.Envelope, row, attempt int, fill func(*Result)) {
	rows := p.jobs[env.JobID]
	if row < 0 || row >= len(rows) {
		return
	}
	r := &rows[row]
	next, changed := r.state().onDocEvent(env.Type, attempt)
	if !changed {
		return
	}
	r.setState(next)
	r.Seq = env.Seq
	fill(r)
}

func (p *DocumentResults) endDocs(env events.Envelope, reason string) {
	rows := p.jobs[env.JobID]
	for i := range rows {
		next, changed := rows[i].state().onJobEnd(env.Type)
		if !changed {
			continue
		}
		rows[i].setState(next)
		rows[i].Seq = env.Seq
		if reason != "" {
			rows[i].Error = reason
		}
	}
}

// Page returns up to limit rows of a job starting at row from, and whether
// the job is known.
func (p *DocumentResults) Page(_ context.Context, jobID string, from, limit int) ([]Result, int, bool, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	rows, ok := p.jobs[jobID]
	if !ok {
		return nil, 0, false, nil
	}
	if from < 0 {
		from = 0
	}
	if from > len(rows) {
		from = len(rows)
	}
	end := len(rows)
	if limit > 0 && from+limit < end {
		end = from + limit
	}
	out := make([]Result, end-from)
	copy(out, rows[from:end])
	return out, len(rows), true, nil
}

// Rows returns the given rows of a job (unknown rows are skipped).
func (p *DocumentResults) Rows(_ context.Context, jobID string, rows []int) ([]Result, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	all := p.jobs[jobID]
	out := make([]Result, 0, len(rows))
	for _, r := range rows {
		if r >= 0 && r < len(all) {
			out = append(out, all[r])
		}
	}
	return out, nil
}

// Snapshot implements Projection.
func (p *DocumentResults) Snapshot() ([]byte, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var ids []string
	for job, ins := range p.inputs {
		for in := range ins {
			ids = append(ids, job+"/"+in)
		}
	}
	sort.Strings(ids)
	return json.Marshal(map[string]any{"jobs": p.jobs, "unclaimed_inputs": ids})
}
