package projections

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/tagstream/tagstream/events"
)

// JobStatusName is the job-status model's consumer name.
const JobStatusName = "job-status"

// Job is the status view of one job.
type Job struct {
	ID         string           `json:"job_id"`
	OwnerID    string           `json:"owner_id"`
	OwnerEmail string           `json:"owner_email,omitempty"`
	OrgID      string           `json:"org_id,omitempty"` // from JobStarted; "" outside organisations
	Status     string           `json:"status"`
	Total      int              `json:"total_documents"`
	Processed  int              `json:"processed_count"`
	Failed     int              `json:"failed_count"`
	Cancelled  int              `json:"cancelled_count"`
	Attempt    int              `json:"attempt"`
	Config     events.JobConfig `json:"config"`
	Reason     string           `json:"reason,omitempty"` // why it failed, was cancelled or paused
	// ReasonCode is the machine code of a failure or of a pause the
	// system made itself (e.g. "model_unreachable").
	ReasonCode string     `json:"reason_code,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// ControlSeq is the sequence of the job's last control event.
	ControlSeq uint64 `json:"control_seq"`
	// RequestDigest identifies the start request, for idempotent starts.
	RequestDigest string `json:"request_digest"`
	// Usage sums the model use of every recorded outcome of every attempt.
	Usage Usage `json:"usage"`
	// Erasure and legal hold (JobErased, LegalHoldSet): the erasure's
	// time and reason stay, like the job's counts; the hold's reason is
	// the one it was set with, gone once it is lifted.
	Erased          bool       `json:"erased"`
	ErasedAt        *time.Time `json:"erased_at,omitempty"`
	EraseReason     string     `json:"erase_reason,omitempty"`
	LegalHold       bool       `json:"legal_hold"`
	LegalHoldReason string     `json:"legal_hold_reason,omitempty"`
	// Columns and ColumnMapping come from JobStarted, for the results
	// export (the client's column order and names).
	Columns       []string          `json:"-"`
	ColumnMapping map[string]string `json:"-"`
}

// Usage is what a job cost in model calls, tokens and dollars.
type Usage struct {
	ModelCalls       int64   `json:"model_calls"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	// Cached counts documents tagged from an earlier result, without a call.
	Cached int `json:"cached"`
	// Unpriced counts documents whose model had no price: CostUSD leaves
	// them out.
	Unpriced int `json:"unpriced,omitempty"`
}

func (u *Usage) add(md events.TagMetadata) {
	u.ModelCalls += int64(md.Calls)
	u.PromptTokens += int64(md.PromptTokens)
	u.CompletionTokens += int64(md.CompletionTokens)
	u.CostUSD += md.CostUSD
	if md.CachedFrom != 0 {
		u.Cached++
	}
	if md.CostKnown != nil && !*md.CostKnown {
		u.Unpriced++
	}
}

// Progress is the share of documents with an outcome other than cancelled.
func (j Job) Progress() float64 {
	if j.Total == 0 {
		return 1
	}
	return float64(j.Processed+j.Failed) / float64(j.Total)
}

type jobEntry struct {
	Job
	docs    []DocState
	lastSeq uint64 // newest event applied: one seen again changes nothing
}

// JobStatus is the read model behind job status, active jobs and history.
type JobStatus struct {
	mu   sync.RWMutex
	jobs map[string]*jobEntry
}

var _ Projection = (*JobStatus)(nil)

// NewJobStatus returns an empty model.
func NewJobStatus() *JobStatus { return &JobStatus{jobs: map[string]*jobEntry{}} }

// Name implements Projection.
func (p *JobStatus) Name() string { return JobStatusName }

// Apply implements Projection.
func (p *JobStatus) Apply(env events.Envelope) error {
	// A webhook attempt (jobs.<id>.hook) reports on the job, it does not
	// change it: updated_at stays the job's own.
	if env.Type == events.TypeDocumentsSubmitted || env.Type == events.TypeWebhookAttempted {
		return nil
	}
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := ev.(*events.JobStarted); ok {
		if _, exists := p.jobs[env.JobID]; !exists {
			p.jobs[env.JobID] = newJobEntry(env, s)
		}
		return nil
	}
	j := p.jobs[env.JobID]
	if j == nil {
		return nil // events of a job whose start never committed
	}
	if env.Seq != 0 {
		if env.Seq <= j.lastSeq {
			return nil
		}
		j.lastSeq = env.Seq
	}
	j.UpdatedAt = env.Time
	switch e := ev.(type) {
	case *events.DocumentStarted:
		j.docEvent(env, e.Row, e.Attempt)
		if j.StartedAt == nil {
			t := env.Time
			j.StartedAt = &t
		}
	case *events.DocumentTagged:
		j.Usage.add(e.Metadata)
		j.docEvent(env, e.Row, e.Attempt)
	case *events.DocumentFailed:
		j.Usage.add(e.Metadata)
		j.docEvent(env, e.Row, e.Attempt)
	case *events.DocumentReleased:
		j.docEvent(env, e.Row, e.Attempt)
	case *events.JobRetried:
		if e.Attempt <= j.Attempt {
			return nil // a retry already applied
		}
		j.retry(e)
		j.control(env, events.StatusPending)
	case *events.JobCancelled:
		j.endDocs(env.Type)
		j.Reason, j.ReasonCode = e.Reason, ""
		j.control(env, events.StatusCancelled)
	case *events.JobFailed:
		j.endDocs(env.Type)
		j.Reason, j.ReasonCode = e.Reason, e.Code
		j.control(env, events.StatusFailed)
	default:
		j.controlled(env, ev)
	}
	return nil
}

// completedStatus is the status a JobCompleted leaves a job in: a job that
// still has cancelled documents (its cancellation was followed by a retry
// of its failures only) stays cancelled. The same rule as
// services/job.CompletedStatus, which the decider's tests hold both to.
func completedStatus(e events.JobCompleted) string {
	if e.Cancelled > 0 {
		return events.StatusCancelled
	}
	return events.StatusCompleted
}

func newJobEntry(env events.Envelope, s *events.JobStarted) *jobEntry {
	docs := make([]DocState, s.Total)
	for i := range docs {
		docs[i] = newDocState()
	}
	return &jobEntry{Job: Job{
		ID: env.JobID, OwnerID: env.Actor.ID, OwnerEmail: env.Actor.Email, OrgID: s.OrgID,
		Status: events.StatusPending, Total: s.Total, Attempt: 1, Config: s.Config,
		CreatedAt: env.Time, UpdatedAt: env.Time, ControlSeq: env.Seq, RequestDigest: s.RequestDigest,
		Columns: s.Columns, ColumnMapping: s.ColumnMapping,
	}, docs: docs, lastSeq: env.Seq}
}

func (j *jobEntry) control(env events.Envelope, status string) {
	j.ControlSeq = env.Seq
	j.Status = status
	if events.Terminal(j.Status) {
		t := env.Time
		j.FinishedAt = &t
	} else {
		j.FinishedAt = nil
	}
}

// controlled applies the events that only move the job's own status
// (pause, resume, completion) or its governance (erasure, hold) and
// reports whether ev was one.
func (j *jobEntry) controlled(env events.Envelope, ev events.Event) bool {
	switch e := ev.(type) {
	case *events.JobPaused:
		j.Reason, j.ReasonCode = e.Reason, e.Code
		j.control(env, events.StatusPaused)
	case *events.JobResumed:
		j.Reason, j.ReasonCode = "", ""
		j.control(env, events.StatusProcessing)
	case *events.JobCompleted:
		j.control(env, completedStatus(*e))
	default:
		return j.governed(env, ev)
	}
	return true
}

func (j *jobEntry) docEvent(env events.Envelope, row, attempt int) {
	// A document of the current attempt at work makes a pending job
	// processing, as services/job decides it.
	if attempt == j.Attempt && j.Status == events.StatusPending {
		j.Status = events.StatusProcessing
	}
	if row < 0 || row >= len(j.docs) {
		return
	}
	next, changed := j.docs[row].onDocEvent(env.Type, attempt)
	if changed {
		j.tally(row, next)
	}
}

func (j *jobEntry) tally(row int, next DocState) {
	c := counts{j.Processed, j.Failed, j.Cancelled}
	c.move(j.docs[row].Status, next.Status)
	j.Processed, j.Failed, j.Cancelled = c.Processed, c.Failed, c.Cancelled
	j.docs[row] = next
}

func (j *jobEntry) endDocs(eventType string) {
	for row, d := range j.docs {
		if next, changed := d.onJobEnd(eventType); changed {
			j.tally(row, next)
		}
	}
}

func (j *jobEntry) retry(e *events.JobRetried) {
	j.Attempt = e.Attempt
	j.Config = e.Config
	j.Reason, j.ReasonCode = "", ""
	for _, row := range e.Rows {
		if row >= 0 && row < len(j.docs) {
			j.tally(row, j.docs[row].onRetry(e.Attempt))
		}
	}
}

// Get returns one job.
func (p *JobStatus) Get(_ context.Context, id string) (Job, bool, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	j, ok := p.jobs[id]
	if !ok {
		return Job{}, false, nil
	}
	return j.Job, true, nil
}

// DocStatuses returns each document's status and attempt, by row.
func (p *JobStatus) DocStatuses(_ context.Context, id string) ([]DocState, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	j, ok := p.jobs[id]
	if !ok {
		return nil, nil
	}
	return append([]DocState(nil), j.docs...), nil
}

// List returns the jobs f selects, in f's order, f's page of them.
func (p *JobStatus) List(_ context.Context, f Filter) ([]Job, error) {
	p.mu.RLock()
	out := make([]Job, 0, len(p.jobs))
	for _, j := range p.jobs {
		out = append(out, j.Job)
	}
	p.mu.RUnlock()
	return f.page(out), nil
}

// CountByStatus counts the jobs f selects per status (not its cursor or
// limit), as the SQL model does.
func (p *JobStatus) CountByStatus(ctx context.Context, f Filter) (map[string]int, error) {
	f.After, f.Limit = nil, 0
	jobs, err := p.List(ctx, f)
	return countStatuses(jobs), err
}

// countStatuses is how many of jobs are in each status.
func countStatuses(jobs []Job) map[string]int {
	out := map[string]int{}
	for _, j := range jobs {
		out[j.Status]++
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Snapshot implements Projection.
func (p *JobStatus) Snapshot() ([]byte, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := map[string]any{}
	for id, j := range p.jobs {
		out[id] = struct {
			Job  Job
			Docs []DocState
		}{j.Job, j.docs}
	}
	return json.Marshal(out)
}
