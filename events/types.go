package events

import (
	"encoding/json"
	"time"
)

// Event type names as written into envelopes. They never change: stored
// events outlive the code that wrote them.
const (
	TypeDocumentsSubmitted = "DocumentsSubmitted"
	TypeJobStarted         = "JobStarted"
	TypeJobPaused          = "JobPaused"
	TypeJobResumed         = "JobResumed"
	TypeJobCancelled       = "JobCancelled"
	TypeJobCompleted       = "JobCompleted"
	TypeJobFailed          = "JobFailed"
	TypeJobRetried         = "JobRetried"
	TypeDocumentStarted    = "DocumentStarted"
	TypeDocumentTagged     = "DocumentTagged"
	TypeDocumentFailed     = "DocumentFailed"
	TypeDocumentReleased   = "DocumentReleased"
	TypeWebhookAttempted   = "WebhookAttempted"
)

// Types is the registry of every stored event type with its current
// schema version and upcasters. To change one, add a version (Register(..., upcaster))
// and a golden fixture for it (events/testdata/golden); never edit a shape
// in place.
var Types = newTypes()

func newTypes() *Registry {
	r := NewRegistry()
	// v2 of the four document types may carry their document data
	// sealed (seal.go); v1 data is a valid v2 in the clear.
	r.Register(TypeDocumentsSubmitted, func() Event { return &DocumentsSubmitted{} }, sameShape)
	// v2 may key its request digest (DigestKey); v1's is plain SHA-256.
	r.Register(TypeJobStarted, func() Event { return &JobStarted{} }, plainDigest)
	r.Register(TypeJobPaused, func() Event { return &JobPaused{} })
	r.Register(TypeJobResumed, func() Event { return &JobResumed{} })
	r.Register(TypeJobCancelled, func() Event { return &JobCancelled{} })
	r.Register(TypeJobCompleted, func() Event { return &JobCompleted{} })
	r.Register(TypeJobFailed, func() Event { return &JobFailed{} })
	r.Register(TypeJobRetried, func() Event { return &JobRetried{} })
	r.Register(TypeDocumentStarted, func() Event { return &DocumentStarted{} })
	r.Register(TypeDocumentTagged, func() Event { return &DocumentTagged{} }, sameShape)
	r.Register(TypeDocumentFailed, func() Event { return &DocumentFailed{} }, sameShape)
	r.Register(TypeDocumentReleased, func() Event { return &DocumentReleased{} }, sameShape)
	r.Register(TypeJobErased, func() Event { return &JobErased{} })
	r.Register(TypeLegalHoldSet, func() Event { return &LegalHoldSet{} })
	r.Register(TypeWebhookAttempted, func() Event { return &WebhookAttempted{} })
	r.Register(TypeOrgCreated, func() Event { return &OrgCreated{} })
	r.Register(TypeOrgMemberAdded, func() Event { return &OrgMemberAdded{} }, addsReason)
	r.Register(TypeOrgMemberRoleChanged, func() Event { return &OrgMemberRoleChanged{} }, addsReason)
	r.Register(TypeOrgMemberRemoved, func() Event { return &OrgMemberRemoved{} }, addsReason)
	r.Register(TypeOrgSettingsChanged, func() Event { return &OrgSettingsChanged{} })
	return r
}

// Document is one row of a job: the system fields and every other column
// the client sent, kept so results can be returned with them.
type Document struct {
	Row         int            `json:"row"`
	Title       string         `json:"title,omitempty"`
	FilePath    string         `json:"file_path"`
	SourceType  string         `json:"file_source_type"`
	Description string         `json:"description,omitempty"`
	Extra       map[string]any `json:"extra,omitempty"`
}

// JobConfig is how a job tags its documents. It never holds the API key:
// KeySource only says where the key comes from ("job", "server" or "none").
type JobConfig struct {
	Model          string   `json:"model_name"`
	NumPages       int      `json:"num_pages"`
	NumTags        int      `json:"num_tags"`
	ExclusionWords []string `json:"exclusion_words,omitempty"`
	KeySource      string   `json:"key_source"`
	// Added in the second stage; empty in older events means the default
	// (ocr "auto", languages from TAGSTREAM_OCR_LANGUAGES, tags in "en").
	OCR          string `json:"ocr,omitempty"`
	OCRLanguages string `json:"ocr_languages,omitempty"`
	TagLanguage  string `json:"tag_language,omitempty"`
	// Cache (issue 14): false turns the content cache off for this job;
	// absent means on.
	Cache *bool `json:"cache,omitempty"`
	// CallbackURL (issue 15) receives signed webhooks when the job ends
	// or the system pauses it; absent means none.
	CallbackURL string `json:"callback_url,omitempty"`
	// Name (issue 13) is the human name the owner gave the job (trimmed,
	// at most 200 characters); absent in older events and when none was
	// given, so their shape is unchanged.
	Name string `json:"name,omitempty"`
}

// CacheOn reports whether the job may reuse earlier tags of identical
// documents.
func (c JobConfig) CacheOn() bool { return c.Cache == nil || *c.Cache }

// DocumentsSubmitted carries one chunk of a job's documents. Chunks are
// appended before JobStarted and only count once a JobStarted names their
// InputID, so a start that crashes half-way leaves no visible job.
type DocumentsSubmitted struct {
	InputID   string     `json:"input_id"`
	Chunk     int        `json:"chunk"`
	Documents []Document `json:"documents"`
	Sealing
}

// JobStarted records that a user started a job over the documents of the
// chunks with its InputID. The actor is the job's owner.
type JobStarted struct {
	InputID       string            `json:"input_id"`
	Chunks        int               `json:"chunks"`
	Total         int               `json:"total_documents"`
	Config        JobConfig         `json:"config"`
	ColumnMapping map[string]string `json:"column_mapping,omitempty"`
	// RequestDigest identifies the start request, so a repeated start is
	// idempotent; InputID is its first 32 hex digits. DigestKey says how
	// both were made: DigestKeyJob (v2), HMAC-SHA256 under a key derived
	// from the job's data key, which an erasure destroys, so neither can
	// then confirm a guess at the documents; empty (every v1 event, and
	// v2 from a log without data keys), plain SHA-256 of the request.
	RequestDigest string `json:"request_digest"`
	DigestKey     string `json:"digest_key,omitempty"`
	// Columns is the client's column order, first seen across the rows
	// (JSON objects lose it once decoded), so exports keep it. Optional:
	// jobs started before it was recorded export columns sorted by name.
	Columns []string `json:"columns,omitempty"`
	// OrgID (issue 15) is the organisation the job belongs to; absent in
	// older events and for jobs started outside any organisation, whose
	// access rules stay owner plus the global roles.
	OrgID string `json:"org_id,omitempty"`
}

// DigestKeyJob marks a JobStarted whose digest is keyed by the job's data key.
const DigestKeyJob = "job"

// plainDigest upcasts JobStarted v1 to v2: the same fields, without
// DigestKey, which v2 reads as a plain SHA-256 digest, as v1's were.
func plainDigest(data json.RawMessage) (json.RawMessage, error) { return data, nil }

// JobPaused records that no new document may start until JobResumed.
type JobPaused struct {
	Reason string `json:"reason,omitempty"`
	// Code is set when the system paused the job itself (e.g.
	// "model_unreachable"); absent for a user's pause and in older events.
	Code string `json:"code,omitempty"`
}

// JobResumed records that a paused job may start documents again.
type JobResumed struct {
	Reason string `json:"reason,omitempty"`
}

// JobCancelled records that no new document may start; documents without an
// outcome count as cancelled unless an in-flight one still reports one.
type JobCancelled struct {
	Reason string `json:"reason,omitempty"`
}

// JobCompleted records that every document of the job has an outcome.
type JobCompleted struct {
	Processed int `json:"processed"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
}

// JobFailed records that the job stopped as a whole (an invalid API key, or
// every document failed). Documents without an outcome count as failed.
type JobFailed struct {
	Reason string `json:"reason"`
	Code   string `json:"code,omitempty"`
}

// JobRetried records that the listed documents run again as a new attempt
// of a finished job, possibly with another model or key source.
type JobRetried struct {
	Attempt          int       `json:"attempt"`
	Rows             []int     `json:"rows"`
	IncludeCancelled bool      `json:"include_cancelled,omitempty"`
	Reason           string    `json:"reason,omitempty"`
	Config           JobConfig `json:"config"`
}

// DocumentStarted records that a worker began an attempt at one document.
// A later DocumentStarted for the same attempt means the first worker died.
type DocumentStarted struct {
	Row     int `json:"row"`
	Attempt int `json:"attempt"`
}

// TagMetadata describes how a document's tags were produced.
type TagMetadata struct {
	Method           string `json:"extraction_method,omitempty"` // "text", "ocr" or "text+ocr"; "scanned" in older events
	PagesRead        int    `json:"pages_read"`
	PageCount        int    `json:"page_count"`
	TextLength       int    `json:"text_length"`
	Model            string `json:"model,omitempty"`
	PromptTokens     int    `json:"prompt_tokens,omitempty"`
	CompletionTokens int    `json:"completion_tokens,omitempty"`
	TotalTokens      int    `json:"total_tokens,omitempty"`
	Calls            int    `json:"llm_calls,omitempty"`
	DurationMS       int64  `json:"duration_ms"`
	// Mean word confidence (0-100) of the OCR'd pages; absent when OCR
	// did not run or was not kept.
	OCRConfidence float64 `json:"ocr_confidence,omitempty"`

	// Added with usage reporting (issue 14); absent in older events.
	PromptVersion    string  `json:"prompt_version,omitempty"`    // internal/llm.PromptVersion of the prompt used
	ExtractorVersion string  `json:"extractor_version,omitempty"` // internal/pdftext.ExtractorVersion
	CostUSD          float64 `json:"cost_usd,omitempty"`          // cost of this document's model calls
	// CostKnown is false when the model has no price in the price table
	// (CostUSD is then 0); absent when no model was called.
	CostKnown *bool `json:"cost_known,omitempty"`
	// ContentSHA256 is the hex SHA-256 of the document's bytes.
	ContentSHA256 string `json:"content_sha256,omitempty"`
	// CachedFrom is the sequence of the DocumentTagged whose tags were
	// reused for identical bytes and settings, without a model call.
	CachedFrom uint64 `json:"cached_from,omitempty"`
}

// DocumentTagged records a document's tags.
type DocumentTagged struct {
	Row      int         `json:"row"`
	Attempt  int         `json:"attempt"`
	Tags     []string    `json:"tags"`
	Metadata TagMetadata `json:"metadata"`
	Sealing
}

// DocumentFailed records why a document could not be tagged.
type DocumentFailed struct {
	Row      int         `json:"row"`
	Attempt  int         `json:"attempt"`
	Error    string      `json:"error"`
	Code     string      `json:"code,omitempty"`
	Metadata TagMetadata `json:"metadata"`
	Sealing
}

// DocumentReleased records that the worker which started an attempt gave
// it back on purpose, without an outcome (the model endpoint could not be
// reached, a dependency hiccup, a shutdown past its grace): the document
// waits for another start, and this start does not count as a death of
// its process towards quarantine.
type DocumentReleased struct {
	Row     int    `json:"row"`
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason"`
	Code    string `json:"code,omitempty"`
	Sealing
}

// WebhookAttempted records one delivery attempt of the webhook for the
// control event at EventSeq. NextAt is when the next attempt is due;
// absent when it was delivered or given up on. It never holds the URL
// (whose query may carry a token) nor anything derived from the secret.
type WebhookAttempted struct {
	EventSeq   uint64     `json:"event_seq"`
	WebhookID  string     `json:"webhook_id"`
	Kind       string     `json:"kind"` // job.completed, job.failed, job.cancelled, job.paused
	Attempt    int        `json:"attempt"`
	Delivered  bool       `json:"delivered"`
	StatusCode int        `json:"status_code,omitempty"`
	Error      string     `json:"error,omitempty"`
	NextAt     *time.Time `json:"next_at,omitempty"`
}

func (DocumentsSubmitted) EventType() string { return TypeDocumentsSubmitted }
func (JobStarted) EventType() string         { return TypeJobStarted }
func (JobPaused) EventType() string          { return TypeJobPaused }
func (JobResumed) EventType() string         { return TypeJobResumed }
func (JobCancelled) EventType() string       { return TypeJobCancelled }
func (JobCompleted) EventType() string       { return TypeJobCompleted }
func (JobFailed) EventType() string          { return TypeJobFailed }
func (JobRetried) EventType() string         { return TypeJobRetried }
func (DocumentStarted) EventType() string    { return TypeDocumentStarted }
func (DocumentTagged) EventType() string     { return TypeDocumentTagged }
func (DocumentFailed) EventType() string     { return TypeDocumentFailed }
func (DocumentReleased) EventType() string   { return TypeDocumentReleased }
func (WebhookAttempted) EventType() string   { return TypeWebhookAttempted }

func (DocumentsSubmitted) subject(id string) string { return InputSubject(id) }
func (JobStarted) subject(id string) string         { return ControlSubject(id) }
func (JobPaused) subject(id string) string          { return ControlSubject(id) }
func (JobResumed) subject(id string) string         { return ControlSubject(id) }
func (JobCancelled) subject(id string) string       { return ControlSubject(id) }
func (JobCompleted) subject(id string) string       { return ControlSubject(id) }
func (JobFailed) subject(id string) string          { return ControlSubject(id) }
func (JobRetried) subject(id string) string         { return ControlSubject(id) }
func (e DocumentStarted) subject(id string) string  { return DocSubject(id, e.Row) }
func (e DocumentTagged) subject(id string) string   { return DocSubject(id, e.Row) }
func (e DocumentFailed) subject(id string) string   { return DocSubject(id, e.Row) }
func (e DocumentReleased) subject(id string) string { return DocSubject(id, e.Row) }
func (WebhookAttempted) subject(id string) string   { return HookSubject(id) }

// Job statuses as the API reports them.
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusPaused     = "paused"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
	StatusCancelled  = "cancelled"
)

// Terminal reports whether a job status is final (until a retry).
func Terminal(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}
