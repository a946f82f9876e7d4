package client

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// User is an account as the API shows it.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	FullName  string    `json:"full_name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// LoginResult is the answer to a login.
type LoginResult struct {
	User   User   `json:"user"`
	Tokens Tokens `json:"tokens"`
}

// StartConfig is the tagging configuration of a job; zero values are left
// out so that the server's defaults apply.
type StartConfig struct {
	APIKey         string   `json:"api_key,omitempty"`
	ModelName      string   `json:"model_name,omitempty"`
	NumPages       *int     `json:"num_pages,omitempty"`
	NumTags        *int     `json:"num_tags,omitempty"`
	ExclusionWords []string `json:"exclusion_words,omitempty"`
}

// StartRequest starts a batch job. Documents are objects of CSV columns.
type StartRequest struct {
	Documents     []map[string]string `json:"documents"`
	Config        StartConfig         `json:"config"`
	ColumnMapping map[string]string   `json:"column_mapping,omitempty"`
	JobID         string              `json:"job_id,omitempty"`
	Name          string              `json:"name,omitempty"`   // the job's human name (at most 200 characters)
	OrgID         string              `json:"org_id,omitempty"` // the organisation the job belongs to
	// Columns, when set, is the order the documents' columns are sent in
	// (a Go map would sort them); the server keeps it for the results CSV.
	Columns []string `json:"-"`
}

// MarshalJSON sends each document's columns in Columns order; columns a
// document has that Columns does not name follow, sorted.
func (r StartRequest) MarshalJSON() ([]byte, error) {
	type plain StartRequest
	if len(r.Columns) == 0 {
		return json.Marshal(plain(r))
	}
	docs := make([]orderedDoc, len(r.Documents))
	for i, d := range r.Documents {
		docs[i] = orderedDoc{cols: r.Columns, m: d}
	}
	return json.Marshal(struct {
		plain
		Documents []orderedDoc `json:"documents"`
	}{plain(r), docs})
}

type orderedDoc struct {
	cols []string
	m    map[string]string
}

func (d orderedDoc) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	seen := map[string]bool{}
	write := func(k string) error {
		if seen[k] {
			return nil
		}
		v, ok := d.m[k]
		if !ok {
			return nil
		}
		seen[k] = true
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return err
		}
		vb, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
		return nil
	}
	for _, k := range d.cols {
		if err := write(k); err != nil {
			return nil, err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.m)) {
		if err := write(k); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// StartResult is the answer to a start.
type StartResult struct {
	JobID          string          `json:"job_id"`
	TotalDocuments int             `json:"total_documents"`
	Message        string          `json:"message"`
	Raw            json.RawMessage `json:"-"`
}

// Job is a job's status (from /status, /active or the history).
type Job struct {
	JobID          string          `json:"job_id"`
	Status         string          `json:"status"`
	TotalDocuments int             `json:"total_documents"`
	ProcessedCount int             `json:"processed_count"`
	FailedCount    int             `json:"failed_count"`
	CancelledCount int             `json:"cancelled_count"`
	Progress       float64         `json:"progress"`
	CreatedAt      *time.Time      `json:"created_at"`
	StartedAt      *time.Time      `json:"started_at"`
	UpdatedAt      *time.Time      `json:"updated_at"`
	FinishedAt     *time.Time      `json:"finished_at"`
	Reason         string          `json:"reason"`
	ModelName      string          `json:"model_name"`
	Name           string          `json:"name,omitempty"`        // the job's human name; "" when none was given
	OwnerEmail     string          `json:"owner_email,omitempty"` // shown to auditors and admins reading others' jobs
	Attempt        int             `json:"attempt"`
	Usage          *Usage          `json:"usage,omitempty"` // nil from servers that do not report it
	Erased         bool            `json:"erased"`
	ErasedAt       *time.Time      `json:"erased_at"`
	EraseReason    string          `json:"erase_reason"`
	LegalHold      bool            `json:"legal_hold"`
	HoldReason     string          `json:"legal_hold_reason"`
	Raw            json.RawMessage `json:"-"`
}

// Usage is a job's model use, as its status reports it.
type Usage struct {
	ModelCalls       int64   `json:"model_calls"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	Cached           int     `json:"cached"`
	Unpriced         int     `json:"unpriced"`
}

// Terminal reports whether the job can no longer change by itself.
func (j Job) Terminal() bool {
	return j.Status == "completed" || j.Status == "failed" || j.Status == "cancelled"
}

// ChangeResult is the answer to pause, resume, cancel and retry.
type ChangeResult struct {
	Message string          `json:"message"`
	JobID   string          `json:"job_id"`
	Status  string          `json:"status"`
	Raw     json.RawMessage `json:"-"`
}

// RetryRequest re-runs the failed documents of a finished job.
type RetryRequest struct {
	APIKey           string `json:"api_key,omitempty"`
	ModelName        string `json:"model_name,omitempty"`
	Reason           string `json:"reason,omitempty"`
	IncludeCancelled bool   `json:"include_cancelled,omitempty"`
}

// ResultsPage is one page of per-document results. Rows are kept as
// objects because they carry the client's own columns next to the system
// fields.
type ResultsPage struct {
	JobID      string           `json:"job_id"`
	Total      int              `json:"total"`
	Results    []map[string]any `json:"results"`
	NextCursor *string          `json:"next_cursor"`
	Raw        json.RawMessage  `json:"-"`
}

// Actor is who caused an event.
type Actor struct {
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
}

// Event is one entry of a job's audit trail.
type Event struct {
	Seq   uint64          `json:"seq"`
	Type  string          `json:"type"`
	Time  string          `json:"time"`
	Actor Actor           `json:"actor"`
	Data  json.RawMessage `json:"data"`
}

// EventsPage is one page of a job's audit trail.
type EventsPage struct {
	JobID      string          `json:"job_id"`
	Events     []Event         `json:"events"`
	NextCursor *string         `json:"next_cursor"`
	Raw        json.RawMessage `json:"-"`
}

// JobList is the caller's active jobs or one page of the job history.
type JobList struct {
	Jobs       []Job           `json:"jobs"`
	NextCursor *string         `json:"next_cursor"`
	Raw        json.RawMessage `json:"-"`
}

// Register creates an account.
func (c *Client) Register(ctx context.Context, email, password, fullName string) (User, error) {
	var u User
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/register",
		body: map[string]string{"email": email, "password": password, "full_name": fullName}}, &u)
	return u, err
}

// Login exchanges a password for tokens and keeps them in the client.
func (c *Client) Login(ctx context.Context, email, password string) (LoginResult, error) {
	var r LoginResult
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/login",
		body: map[string]string{"email": email, "password": password}}, &r)
	if err == nil {
		c.mu.Lock()
		c.tokens = r.Tokens
		c.mu.Unlock()
	}
	return r, err
}

// Refresh rotates the tokens now (calls also do it by themselves on 401).
func (c *Client) Refresh(ctx context.Context) (Tokens, error) {
	err := c.refreshAfter(ctx, c.Tokens().AccessToken)
	return c.Tokens(), err
}

// Logout revokes the refresh token on the server.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/logout",
		body: map[string]string{"refresh_token": c.Tokens().RefreshToken}}, nil)
	return err
}

// Me returns the logged-in user.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/api/auth/me", auth: true}, &u)
	return u, err
}

// Start starts a batch job.
func (c *Client) Start(ctx context.Context, req StartRequest) (StartResult, error) {
	var r StartResult
	raw, err := c.call(ctx, request{method: http.MethodPost, path: "/api/batch/start", body: req, auth: true}, &r)
	r.Raw = raw
	return r, err
}

func jobPath(id, tail string) string { return "/api/batch/jobs/" + url.PathEscape(id) + tail }

// Status returns a job's status.
func (c *Client) Status(ctx context.Context, jobID string) (Job, error) {
	var j Job
	raw, err := c.call(ctx, request{method: http.MethodGet, path: jobPath(jobID, "/status"), auth: true}, &j)
	j.Raw = raw
	return j, err
}

// Change pauses, resumes or cancels a job (action is "pause", "resume" or
// "cancel"); the reason is recorded in the audit trail.
func (c *Client) Change(ctx context.Context, jobID, action, reason string) (ChangeResult, error) {
	var body any
	if reason != "" {
		body = map[string]string{"reason": reason}
	}
	var r ChangeResult
	raw, err := c.call(ctx, request{method: http.MethodPost, path: jobPath(jobID, "/"+action), body: body, auth: true}, &r)
	r.Raw = raw
	return r, err
}

// Retry re-runs the failed documents of a finished job under the same id.
func (c *Client) Retry(ctx context.Context, jobID string, req RetryRequest) (ChangeResult, error) {
	var r ChangeResult
	raw, err := c.call(ctx, request{method: http.MethodPost, path: jobPath(jobID, "/retry"), body: req, auth: true}, &r)
	r.Raw = raw
	return r, err
}

func pageQuery(cursor string, limit int) url.Values {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// Results returns one page of a job's results; pass the previous page's
// NextCursor to continue, "" to start.
func (c *Client) Results(ctx context.Context, jobID, cursor string, limit int) (ResultsPage, error) {
	var p ResultsPage
	raw, err := c.call(ctx, request{method: http.MethodGet, path: jobPath(jobID, "/results"),
		query: pageQuery(cursor, limit), auth: true}, &p)
	p.Raw = raw
	return p, err
}

// ResultsCSV returns every result row as CSV, exactly as the server wrote it.
func (c *Client) ResultsCSV(ctx context.Context, jobID string) ([]byte, error) {
	raw, _, err := c.do(ctx, request{method: http.MethodGet, path: jobPath(jobID, "/results"),
		query: url.Values{"format": {"csv"}}, auth: true})
	return raw, err
}

// Events returns one page of a job's audit trail.
func (c *Client) Events(ctx context.Context, jobID, cursor string, limit int) (EventsPage, error) {
	var p EventsPage
	raw, err := c.call(ctx, request{method: http.MethodGet, path: jobPath(jobID, "/events"),
		query: pageQuery(cursor, limit), auth: true}, &p)
	p.Raw = raw
	return p, err
}

// Scope says whose jobs a list or statistic covers: the caller's own
// (zero), an organisation's (OrgID, by the caller's role there) or every
// job the caller may read (All: its own, its organisations' where its role
// reads them all, and for global auditors and admins every job outside
// organisations), the same on every read.
type Scope struct {
	OrgID string
	All   bool
}

func (s Scope) set(v url.Values) {
	if s.OrgID != "" {
		v.Set("org_id", s.OrgID)
	}
	if s.All {
		v.Set("all", "true")
	}
}

// Active returns the pending, processing and paused jobs of the scope.
func (c *Client) Active(ctx context.Context, scope Scope) (JobList, error) {
	q := url.Values{}
	scope.set(q)
	var l JobList
	raw, err := c.call(ctx, request{method: http.MethodGet, path: "/api/batch/active", query: q, auth: true}, &l)
	l.Raw = raw
	return l, err
}

// Jobs returns one page of the scope's job history, newest first; status
// may be empty for every status.
func (c *Client) Jobs(ctx context.Context, status, cursor string, limit int, scope Scope) (JobList, error) {
	q := pageQuery(cursor, limit)
	if status != "" {
		q.Set("status", status)
	}
	scope.set(q)
	var l JobList
	raw, err := c.call(ctx, request{method: http.MethodGet, path: "/api/batch/jobs", query: q, auth: true}, &l)
	l.Raw = raw
	return l, err
}
