package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

type startRequest struct {
	Documents     docRows           `json:"documents"`
	Config        *startConfig      `json:"config"`
	ColumnMapping map[string]string `json:"column_mapping"`
	JobID         string            `json:"job_id"`
	Name          string            `json:"name"`
	OrgID         string            `json:"org_id"`
}

type startConfig struct {
	APIKey         string     `json:"api_key"`
	ModelName      string     `json:"model_name"`
	NumPages       *int       `json:"num_pages"`
	NumTags        *int       `json:"num_tags"`
	ExclusionWords stringList `json:"exclusion_words"`
	OCR            string     `json:"ocr"`
	OCRLanguages   string     `json:"ocr_languages"`
	TagLanguage    string     `json:"tag_language"`
	Cache          *bool      `json:"cache"`
	CallbackURL    string     `json:"callback_url"`
}

// stringList accepts a JSON array of strings or one comma-separated string.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return apperr.Field("config.exclusion_words", "must be a list of strings or a comma-separated string")
	}
	*l = many
	return nil
}

// DecodeStartRequest turns a start body (JSON, at most MaxBodyBytes) into
// the command for who. It is pure, so it can be fuzzed without a server;
// its errors are input errors that name the field (and row).
func DecodeStartRequest(body io.Reader, who services.Caller) (services.StartJob, error) {
	return decodeStartRequest(body, who, 0)
}

// decodeStartRequest is DecodeStartRequest reading at most maxDocs
// documents (0: the default limit).
func decodeStartRequest(body io.Reader, who services.Caller, maxDocs int) (services.StartJob, error) {
	req := startRequest{Documents: docRows{max: maxDocs}}
	if err := decodeJSON(body, &req, false); err != nil {
		return services.StartJob{}, err
	}
	docs, err := decodeDocuments(req.Documents.rows)
	if err != nil {
		return services.StartJob{}, err
	}
	cmd := services.StartJob{Caller: who, JobID: req.JobID, Documents: docs, ColumnMapping: req.ColumnMapping,
		Columns: columnOrder(req.Documents.rows), OrgID: strings.TrimSpace(req.OrgID)}
	if req.Config != nil {
		cmd.Config = req.Config.command()
	}
	if cmd.Config.Name, err = jobName(req.Name); err != nil {
		return services.StartJob{}, err
	}
	return cmd, nil
}

// MaxJobName bounds a job's human name (in characters, after trimming).
const MaxJobName = 200

// jobName checks the optional human name of a job: trimmed, at most
// MaxJobName characters, and no control characters (it is shown in lists
// and terminals).
func jobName(v string) (string, error) {
	v = strings.TrimSpace(v)
	if n := utf8.RuneCountInString(v); n > MaxJobName {
		return "", apperr.Field("name", "must be at most %d characters, got %d", MaxJobName, n)
	}
	for _, r := range v {
		if unicode.IsControl(r) || auth.DirectionOverride(r) {
			return "", apperr.Field("name", "must not contain control characters such as tabs or line breaks, nor text-direction overrides")
		}
	}
	return v, nil
}

// command is the services' view of a config; batch start and single
// process share it, so their configs cannot drift apart.
func (sc startConfig) command() services.StartConfig {
	return services.StartConfig{APIKey: sc.APIKey, Model: sc.ModelName,
		NumPages: sc.NumPages, NumTags: sc.NumTags, ExclusionWords: sc.ExclusionWords,
		OCR: sc.OCR, OCRLanguages: sc.OCRLanguages, TagLanguage: sc.TagLanguage, Cache: sc.Cache,
		CallbackURL: sc.CallbackURL}
}

func (s *Server) startBatch(c *gin.Context) {
	cmd, err := decodeStartRequest(c.Request.Body, caller(c), s.d.MaxDocuments)
	if err != nil {
		fail(c, err)
		return
	}
	res, err := s.d.Start.Handle(c.Request.Context(), cmd)
	if err != nil {
		fail(c, err)
		return
	}
	s.waitFor(c.Request.Context(), res.Seq)
	msg := fmt.Sprintf("Batch job started with %s", plural(res.Total, "document"))
	if res.Existed {
		msg = fmt.Sprintf("Batch job %s already exists with %s", res.JobID, plural(res.Total, "document"))
	}
	c.JSON(http.StatusOK, gin.H{"job_id": res.JobID, "total_documents": res.Total, "message": msg})
}

// decodeDocuments decodes rows one by one so an error names its row.
func decodeDocuments(raw []json.RawMessage) ([]map[string]any, error) {
	docs := make([]map[string]any, len(raw))
	for i, r := range raw {
		var m map[string]any
		if err := json.Unmarshal(r, &m); err != nil || m == nil {
			return nil, apperr.Field(fmt.Sprintf("documents[%d]", i), "must be an object of columns")
		}
		docs[i] = m
	}
	return docs, nil
}

// waitFor makes the caller's own write visible to its next read. A slow
// projection only delays the answer; the write has already happened.
func (s *Server) waitFor(ctx context.Context, seq uint64) {
	ctx, cancel := context.WithTimeout(ctx, commandReadWait)
	defer cancel()
	if err := s.d.Freshness.WaitFor(ctx, seq); err != nil {
		s.d.Log.Warn("read models lag behind a write", "seq", seq, "err", err)
	}
}

// commandReadWait bounds how long a command waits for the read models to
// commit its event before answering anyway (logged): longer than a
// takeover of the read side by another process (a lease TTL of 10 s, and
// sqldb.IdleInTransaction for a stopped holder's locks), which a 5 s wait
// did not cover: a pause answered "paused" while the status said
// processing for the rest of the takeover.
const commandReadWait = 25 * time.Second

// visibleJob returns a job the caller may read, or NotFound (or
// Unavailable when the log cannot be consulted for an unknown job).
func (s *Server) visibleJob(c *gin.Context) (projections.Job, error) {
	id := c.Param("job_id")
	job, ok, err := s.d.Jobs.Get(c.Request.Context(), id)
	if err != nil {
		return projections.Job{}, err
	}
	if !ok && events.ValidJobID(id) {
		if err := s.catchUp(c.Request.Context()); err != nil {
			return projections.Job{}, err
		}
		if job, ok, err = s.d.Jobs.Get(c.Request.Context(), id); err != nil {
			return projections.Job{}, err
		}
	}
	if !ok {
		return projections.Job{}, apperr.New(apperr.NotFound, "job %q not found", id)
	}
	if err := services.CheckRead(caller(c), id, job.OwnerID, job.OrgID); err != nil {
		// Someone else's job costs the same catch-up as an unknown id,
		// so the time of the 404 does not tell that it exists (it was
		// about 0.8 ms faster). The answer stays this 404 whatever the
		// catch-up says: the job is known, and a busy log must not turn
		// it into a 503.
		_ = s.catchUp(c.Request.Context())
		_, _, _ = s.d.Jobs.Get(c.Request.Context(), id)
		return projections.Job{}, err
	}
	return job, nil
}

func (s *Server) jobStatus(c *gin.Context) {
	job, err := s.visibleJob(c)
	if err != nil {
		fail(c, err)
		return
	}
	view := statusView(job)
	for k, v := range accessView(caller(c), job) {
		view[k] = v
	}
	c.JSON(http.StatusOK, view)
}

// accessView is what the caller may do with the job, from the one access
// policy (services/access.go), so the console offers only those controls.
func accessView(c services.Caller, j projections.Job) gin.H {
	return gin.H{
		"can_control": services.JobAccess(c, j.OwnerID, j.OrgID) == services.AccessControl,
		"can_erase":   services.CanErase(c, j.OwnerID, j.OrgID),
		"can_hold":    services.CanHold(c, j.OrgID),
	}
}

func statusView(j projections.Job) gin.H {
	return gin.H{
		"job_id": j.ID, "status": j.Status, "total_documents": j.Total,
		"processed_count": j.Processed, "failed_count": j.Failed, "cancelled_count": j.Cancelled,
		"progress": j.Progress(), "created_at": j.CreatedAt, "started_at": j.StartedAt,
		"updated_at": j.UpdatedAt, "finished_at": j.FinishedAt, "reason": j.Reason, "reason_code": j.ReasonCode,
		"model_name": j.Config.Model, "attempt": j.Attempt, "usage": j.Usage,
		"control_seq": j.ControlSeq, "name": j.Config.Name, "owner_id": j.OwnerID, "owner_email": j.OwnerEmail, "config": configView(j.Config),
		"org_id": j.OrgID, "erased": j.Erased, "erased_at": j.ErasedAt, "erase_reason": j.EraseReason,
		"legal_hold": j.LegalHold, "legal_hold_reason": j.LegalHoldReason,
	}
}

// configView is the job's settings as the job page shows them. The
// callback URL is reduced to "set or not": its query may carry a token.
func configView(c events.JobConfig) gin.H {
	return gin.H{"model_name": c.Model, "num_pages": c.NumPages, "num_tags": c.NumTags,
		"exclusion_words": nonNil(c.ExclusionWords), "key_source": c.KeySource, "ocr": c.OCR,
		"ocr_languages": c.OCRLanguages, "tag_language": c.TagLanguage, "cache": c.CacheOn(), "callback": c.CallbackURL != ""}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type changeRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) change(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req changeRequest
		if err := decode(c, &req, true); err != nil {
			fail(c, err)
			return
		}
		res, err := s.d.Change.Handle(c.Request.Context(), services.ChangeJob{
			JobID: c.Param("job_id"), Action: action, Reason: req.Reason, Caller: caller(c),
		})
		if err != nil {
			fail(c, err)
			return
		}
		s.waitFor(c.Request.Context(), res.Seq)
		c.JSON(http.StatusOK, gin.H{"message": fmt.Sprintf("Job %s: %s accepted", res.JobID, action),
			"job_id": res.JobID, "status": res.Status})
	}
}

func (s *Server) active(c *gin.Context) {
	f := projections.Filter{Status: []string{events.StatusPending, events.StatusProcessing, events.StatusPaused}}
	jobs, _, err := s.listJobs(c, f)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]gin.H, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, gin.H{"job_id": j.ID, "status": j.Status, "total_documents": j.Total,
			"processed_count": j.Processed, "failed_count": j.Failed, "progress": j.Progress(), "started_at": j.StartedAt,
			"created_at": j.CreatedAt, "name": j.Config.Name, "owner_id": j.OwnerID, "owner_email": j.OwnerEmail, "org_id": j.OrgID,
			"legal_hold": j.LegalHold})
	}
	c.JSON(http.StatusOK, gin.H{"jobs": out})
}

// plural writes "1 document", "2 documents".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// columnOrder lists the rows' keys in the order the client sent them,
// first seen across rows; decoding into maps loses it. Rows were already
// decoded once, so they are valid JSON objects here.
func columnOrder(raw []json.RawMessage) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range raw {
		dec := json.NewDecoder(bytes.NewReader(r))
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			continue
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				break
			}
			k, _ := t.(string)
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
				if len(out) > services.MaxRecordedColumns {
					return nil // not recorded: the export sorts
				}
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				break
			}
		}
	}
	return out
}
