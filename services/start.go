package services

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/tagging"
	"github.com/tagstream/tagstream/services/pipeline"
)

// Tagging defaults and bounds from the API contract.
const (
	DefaultModel    = "openai/gpt-4o-mini"
	KeywordsModel   = pipeline.KeywordsModel
	DefaultNumPages = 3
	DefaultNumTags  = 8
)

// StartConfig is the tagging configuration a client sends. Nil numbers
// take their defaults; explicit out-of-range numbers are refused.
type StartConfig struct {
	APIKey         string
	Model          string
	NumPages       *int
	NumTags        *int
	ExclusionWords []string
	OCR            string // auto (default) | off | force
	OCRLanguages   string // Tesseract codes such as "eng+hin"
	TagLanguage    string // en (default) | original
	Cache          *bool  // content cache; nil: on
	CallbackURL    string // signed webhooks on job end (see WithCallbacks)
	Name           string // the job's human name, already checked by the caller (httpapi)
}

// StartJob starts tagging a batch of documents.
type StartJob struct {
	Caller        Caller
	JobID         string // optional: makes the start idempotent, per owner (see OwnerScopedJobID)
	Documents     []map[string]any
	ColumnMapping map[string]string
	Config        StartConfig
	// Columns is the order of the rows' columns as the client sent them
	// (optional; recorded for exports, bounded by MaxRecordedColumns).
	Columns []string
	// OrgID names the organisation the job belongs to (optional); the
	// caller must be allowed to start there (CheckStartIn).
	OrgID    string
	uploads  bool // documents may be uploads (set by ProcessSingle only)
	serverID bool // JobID was chosen by the server, not a client (ProcessSingle)
}

// MaxRecordedColumns bounds the column order kept in JobStarted: beyond
// it (or with an absurdly long name) none is kept and exports sort.
const MaxRecordedColumns = 256

// StartResult says which job runs the batch.
type StartResult struct {
	JobID   string
	Total   int
	Seq     uint64 // sequence of the JobStarted event
	Existed bool   // an identical earlier start with the same job id
}

// SecretStore keeps job API keys out of the event log.
type SecretStore interface {
	// Claim stores a command's secret unless another command's is there
	// (held false). A claim is never taken back: a command whose append
	// failed cannot tell whether an identical request sharing the slot
	// appended, nor always whether its own append was stored; a slot left
	// unused is taken over once stale.
	Claim(ctx context.Context, id, secret string) (held bool, err error)
	// Lookup returns the secret and whether it exists; an error means the
	// store could not be asked (try again later), not that it is missing.
	Lookup(ctx context.Context, id string) (secret string, found bool, err error)
	Delete(ctx context.Context, jobID string) error
}

// StartJobHandler handles StartJob.
type StartJobHandler struct {
	store        events.Store
	secrets      SecretStore
	maxDocuments int
	serverKey    bool

	callbacks, callbacksPrivate bool
	digests                     Digester
}

// Digester keys a start request's digest by its job (datakeys.Keys, under
// the job's data key): the digest and the input id made from it then
// confirm a guess at the documents only until an erasure destroys the key.
type Digester interface {
	Digest(ctx context.Context, jobID string, msg []byte) (string, error)
}

// WithDigests keys request digests; without it (a log without data keys)
// they are plain SHA-256, as JobStarted v1's were.
func (h StartJobHandler) WithDigests(d Digester) StartJobHandler {
	h.digests = d
	return h
}

// NewStartJobHandler returns a handler; serverKey says whether a server
// API key is configured for jobs that bring none.
func NewStartJobHandler(store events.Store, secrets SecretStore, maxDocuments int, serverKey bool) StartJobHandler {
	return StartJobHandler{store: store, secrets: secrets, maxDocuments: maxDocuments, serverKey: serverKey}
}

// chunkBytes bounds one DocumentsSubmitted event well under JetStream's
// 1 MiB message limit.
const chunkBytes = 256 << 10

// Handle validates the batch, stores its documents in chunks and commits
// the job with one JobStarted appended only if the job id is still unused.
func (h StartJobHandler) Handle(ctx context.Context, cmd StartJob) (StartResult, error) {
	if err := CheckStartIn(cmd.Caller, cmd.OrgID); err != nil {
		return StartResult{}, err
	}
	cfg, apiKey, err := h.config(cmd.Config)
	if err != nil {
		return StartResult{}, err
	}
	if len(cmd.Documents) == 0 {
		return StartResult{}, apperr.Field("documents", "at least one document is required")
	}
	if len(cmd.Documents) > h.maxDocuments {
		return StartResult{}, &apperr.Error{Code: apperr.TooLarge, Field: "documents",
			Message: fmt.Sprintf("documents: %d documents exceed the limit of %d per job", len(cmd.Documents), h.maxDocuments)}
	}
	docs, err := normalizeDocuments(cmd.Documents, cmd.ColumnMapping, cmd.uploads)
	if err != nil {
		return StartResult{}, err
	}
	request := requestBytes(docs, cfg, cmd.ColumnMapping)
	jobID := cmd.JobID
	switch {
	case jobID == "":
		jobID = newJobID()
	case cmd.serverID:
		// Chosen by the server (single process stores the upload under it
		// first): not a client's id, so nothing to scope.
	case !events.ValidJobID(jobID):
		return StartResult{}, apperr.Field("job_id", "must be 1-64 letters, digits, '-' or '_'")
	default:
		jobID = OwnerScopedJobID(cmd.Caller.Actor.ID, jobID)
		if res, done, err := h.existing(ctx, jobID, request, cmd); done || err != nil {
			return res, err
		}
	}
	if apiKey != "" {
		held, err := h.secrets.Claim(ctx, secretID(jobID, 1), apiKey)
		if err != nil {
			return StartResult{}, apperr.Wrap(err, "store api key")
		}
		if !held {
			// Another start of this job_id, with another key, is under way
			// (or has just won): its key stays the job's.
			if res, done, err := h.existing(ctx, jobID, request, cmd); done || err != nil {
				return res, err
			}
			return StartResult{}, apperr.New(apperr.Conflict, "job_id %q is being started by another request with another API key", cmd.JobID)
		}
	}
	digest, digestKey, err := h.digest(ctx, jobID, request)
	if err != nil {
		return StartResult{}, apperr.Wrap(err, "digest the request")
	}
	inputID := digest[:32]
	chunks, err := h.appendChunks(ctx, jobID, inputID, cmd.Caller.Actor, docs)
	if err != nil {
		return StartResult{}, err
	}
	started := events.JobStarted{InputID: inputID, Chunks: chunks, Total: len(docs), Config: cfg,
		ColumnMapping: cmd.ColumnMapping, RequestDigest: digest, DigestKey: digestKey, Columns: boundedColumns(cmd.Columns), OrgID: cmd.OrgID}
	env, err := events.New(jobID, cmd.Caller.Actor, started)
	if err != nil {
		return StartResult{}, err
	}
	env.ID = "start-" + jobID + "-" + inputID
	seq, err := h.store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(jobID), Seq: 0})
	if errors.Is(err, events.ErrConflict) {
		// Another start with this id won the race: identical requests
		// share its job, others are refused.
		res, _, err := h.existing(ctx, jobID, request, cmd)
		return res, err
	}
	if err != nil {
		return StartResult{}, apperr.Wrap(err, "append JobStarted")
	}
	return StartResult{JobID: jobID, Total: len(docs), Seq: seq}, nil
}

// existing reports whether jobID is taken, and by an identical request.
func (h StartJobHandler) existing(ctx context.Context, jobID string, request []byte, cmd StartJob) (StartResult, bool, error) {
	job, err := loadJob(ctx, h.store, jobID)
	if apperr.Code(err) == apperr.NotFound {
		return StartResult{}, false, nil
	}
	if err != nil {
		return StartResult{}, true, err
	}
	same := job.Owner.ID == cmd.Caller.Actor.ID && job.Started.OrgID == cmd.OrgID
	if same {
		if same, err = h.sameRequest(ctx, jobID, job.Started, request); err != nil {
			return StartResult{}, true, err
		}
	}
	if !same {
		return StartResult{}, true, apperr.New(apperr.Conflict, "job_id %q is already used by a different request", jobID)
	}
	return StartResult{JobID: jobID, Total: job.Started.Total, Seq: job.ControlSeq, Existed: true}, true, nil
}

// appendChunks stores the documents in chunks with deterministic ids, so a
// retried identical start deduplicates instead of storing them twice.
func (h StartJobHandler) appendChunks(ctx context.Context, jobID, inputID string, actor events.Actor, docs []events.Document) (int, error) {
	chunk, size, n := []events.Document{}, 0, 0
	flush := func() error {
		env, err := events.New(jobID, actor, events.DocumentsSubmitted{InputID: inputID, Chunk: n, Documents: chunk})
		if err != nil {
			return err
		}
		env.ID = fmt.Sprintf("input-%s-%s-%d", jobID, inputID, n)
		if _, err := h.store.Append(ctx, env, nil); err != nil {
			return apperr.Wrap(err, "append documents")
		}
		chunk, size, n = []events.Document{}, 0, n+1
		return nil
	}
	for _, d := range docs {
		b, _ := json.Marshal(d)
		if size+len(b) > chunkBytes && len(chunk) > 0 {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		chunk, size = append(chunk, d), size+len(b)
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return n, nil
}

// config applies defaults and bounds, and decides where the key comes from.
func (h StartJobHandler) config(in StartConfig) (events.JobConfig, string, error) {
	cfg := events.JobConfig{Model: strings.TrimSpace(in.Model), NumPages: DefaultNumPages, NumTags: DefaultNumTags,
		Name: strings.TrimSpace(in.Name)}
	if cfg.Model == "" {
		cfg.Model = DefaultModel
	}
	if err := checkModel("config.model_name", cfg.Model); err != nil {
		return cfg, "", err
	}
	if in.NumPages != nil {
		if *in.NumPages < 1 || *in.NumPages > 10 {
			return cfg, "", apperr.Field("config.num_pages", "must be between 1 and 10, got %d", *in.NumPages)
		}
		cfg.NumPages = *in.NumPages
	}
	if in.NumTags != nil {
		if *in.NumTags < 3 || *in.NumTags > 15 {
			return cfg, "", apperr.Field("config.num_tags", "must be between 3 and 15, got %d", *in.NumTags)
		}
		cfg.NumTags = *in.NumTags
	}
	words, err := exclusionWords(in.ExclusionWords)
	if err != nil {
		return cfg, "", err
	}
	cfg.ExclusionWords = words
	if in.Cache != nil && !*in.Cache {
		off := false
		cfg.Cache = &off // stored only when off: jobs with the default keep their earlier shape
	}
	if err := documentOptions(&cfg, in); err != nil {
		return cfg, "", err
	}
	if err := h.callbackURL(&cfg, in); err != nil {
		return cfg, "", err
	}
	key, err := chooseKey(&cfg, in.APIKey, h.serverKey, "config.api_key",
		fmt.Sprintf("is required for model %q: this server has no API key configured (or use %q, which needs none)", cfg.Model, KeywordsModel))
	return cfg, key, err
}

// checkModel refuses model ids that cannot be a provider's model name,
// and built-in ones this server does not have: builtin/keyword, a typo,
// went to the configured provider with the server's key.
func checkModel(field, model string) error {
	if len(model) > 200 || spaceOrControl(model) {
		return apperr.Field(field, "must be a model id without spaces, at most 200 characters")
	}
	if strings.HasPrefix(strings.ToLower(model), "builtin/") && model != KeywordsModel {
		return apperr.Field(field, "no built-in model %q; the built-in tagger is %q", model, KeywordsModel)
	}
	return nil
}

// spaceOrControl reports a space or control character in a value that
// goes into a request to the provider (a model id, a key in a header).
func spaceOrControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0
}

// chooseKey decides where a job's key comes from (none for the offline
// tagger, the request's, else the server's) and records it in cfg.
func chooseKey(cfg *events.JobConfig, requestKey string, serverKey bool, field, missing string) (string, error) {
	key := strings.TrimSpace(requestKey)
	// A key goes into an HTTP header: one with a line break or a space was
	// taken, and every document then failed six times on "invalid header".
	if spaceOrControl(key) {
		return "", apperr.Field(field, "must not contain spaces, line breaks or other control characters")
	}
	switch {
	case cfg.Model == KeywordsModel:
		cfg.KeySource = "none"
		return "", nil
	case key != "":
		cfg.KeySource = "job"
	case serverKey:
		cfg.KeySource = "server"
	default:
		return "", apperr.Field(field, "%s", missing)
	}
	return key, nil
}

func exclusionWords(in []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, w := range in {
		for _, part := range strings.Split(w, ",") {
			part = strings.ToLower(strings.TrimSpace(part))
			if part == "" || seen[part] {
				continue
			}
			if len(part) > tagging.MaxExclusionTermBytes {
				return nil, apperr.Field("config.exclusion_words", "words must be at most %d bytes", tagging.MaxExclusionTermBytes)
			}
			seen[part] = true
			out = append(out, part)
		}
	}
	if len(out) > tagging.MaxExclusionTerms {
		return nil, apperr.Field("config.exclusion_words", "at most %d words", tagging.MaxExclusionTerms)
	}
	return out, nil
}

// requestDigest identifies a start request for idempotency. The API key is
// deliberately not part of it: nothing derived from a secret is logged.
// digest is the request's digest for a new start of jobID, and how it was
// keyed (JobStarted.DigestKey).
func (h StartJobHandler) digest(ctx context.Context, jobID string, request []byte) (string, string, error) {
	if h.digests == nil {
		return plainDigest(request), "", nil
	}
	d, err := h.digests.Digest(ctx, jobID, request)
	return d, events.DigestKeyJob, err
}

// sameRequest reports whether request is the one started records, by the
// digest's own kind (jobs started before digests were keyed keep plain
// ones). An erased job's key is gone: no request matches it.
func (h StartJobHandler) sameRequest(ctx context.Context, jobID string, started *events.JobStarted, request []byte) (bool, error) {
	switch {
	case started.DigestKey == "":
		return started.RequestDigest == plainDigest(request), nil
	case started.DigestKey != events.DigestKeyJob || h.digests == nil:
		return false, nil
	}
	d, err := h.digests.Digest(ctx, jobID, request)
	if apperr.Code(err) == apperr.Conflict {
		return false, nil
	}
	return d == started.RequestDigest, err
}

func plainDigest(request []byte) string {
	sum := sha256.Sum256(request)
	return hex.EncodeToString(sum[:])
}

// requestBytes is what a start's digest is over: the documents, the
// configuration but where its key came from, and the column mapping.
func requestBytes(docs []events.Document, cfg events.JobConfig, mapping map[string]string) []byte {
	c := cfg
	c.KeySource = ""
	b, _ := json.Marshal(struct {
		D []events.Document
		C events.JobConfig
		M map[string]string
	}{docs, c, mapping})
	return b
}

func newJobID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("batch-%d-%s", time.Now().Unix(), hex.EncodeToString(b[:]))
}

func boundedColumns(cols []string) []string {
	if len(cols) > MaxRecordedColumns {
		return nil
	}
	for _, c := range cols {
		if len(c) > 256 {
			return nil
		}
	}
	return cols
}
