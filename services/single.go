package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/internal/uploads"
	"github.com/tagstream/tagstream/services/pipeline"
)

// ProcessSingle tags one document, uploaded or by URL, as a one-document
// job like any other (same config rules, same events, same history).
type ProcessSingle struct {
	Caller   Caller
	URL      string // pdf_url, or
	Upload   []byte // pdf_file's bytes
	Filename string // pdf_file's name, the title of an upload
	Config   StartConfig
	OrgID    string // the organisation the job belongs to (optional)
}

// UploadPutter stores uploaded bytes where every worker can read them.
type UploadPutter interface {
	Put(ctx context.Context, jobID, sum string, data []byte) error
}

// ProcessSingleHandler handles ProcessSingle by way of StartJob.
type ProcessSingleHandler struct {
	start    StartJobHandler
	uploads  UploadPutter
	maxBytes int64
}

// NewProcessSingleHandler returns a handler; maxBytes is the fetch cap
// (TAGSTREAM_MAX_FETCH_BYTES), which uploads obey as fetched files do.
func NewProcessSingleHandler(start StartJobHandler, uploads UploadPutter, maxBytes int64) ProcessSingleHandler {
	if maxBytes <= 0 {
		maxBytes = fetch.DefaultMaxBytes
	}
	return ProcessSingleHandler{start: start, uploads: uploads, maxBytes: maxBytes}
}

// MaxBytes is the largest upload accepted.
func (h ProcessSingleHandler) MaxBytes() int64 { return h.maxBytes }

// Handle validates the request, stores an upload and starts the job.
func (h ProcessSingleHandler) Handle(ctx context.Context, cmd ProcessSingle) (StartResult, error) {
	cmd.URL = strings.TrimSpace(cmd.URL)
	switch {
	case cmd.URL == "" && cmd.Upload == nil:
		return StartResult{}, apperr.Field("pdf_file", "send a PDF as pdf_file or its address as pdf_url")
	case cmd.URL != "" && cmd.Upload != nil:
		return StartResult{}, apperr.Field("pdf_url", "send either pdf_file or pdf_url, not both")
	}
	// Access and config errors come before the upload is stored.
	if err := CheckStartIn(cmd.Caller, cmd.OrgID); err != nil {
		return StartResult{}, err
	}
	if _, _, err := h.start.config(cmd.Config); err != nil {
		return StartResult{}, err
	}
	jobID := newJobID()
	doc := map[string]any{}
	if cmd.URL != "" {
		doc[FieldFilePath], doc[FieldSourceType] = cmd.URL, SourceURL
		if u, err := url.Parse(cmd.URL); err == nil {
			if b := path.Base(u.Path); b != "." && b != "/" {
				doc[FieldTitle] = b // never the query, which may hold a token
			} else {
				doc[FieldTitle] = u.Host
			}
		}
	} else {
		if int64(len(cmd.Upload)) > h.maxBytes {
			return StartResult{}, &apperr.Error{Code: apperr.TooLarge, Field: "pdf_file",
				Message: fmt.Sprintf("pdf_file: more than the %d bytes allowed", h.maxBytes)}
		}
		if err := fetch.CheckPDF(cmd.Upload); err != nil {
			return StartResult{}, apperr.Field("pdf_file", "%s", err.Error())
		}
		sum := uploadSum(cmd.Upload)
		if err := h.uploads.Put(ctx, jobID, sum, cmd.Upload); errors.Is(err, uploads.ErrFull) {
			return StartResult{}, apperr.New(apperr.Unavailable,
				"the upload store is full (TAGSTREAM_UPLOADS_MAX_BYTES); uploads are kept a day, so space comes back as they expire: retry later, or give the document by URL")
		} else if err != nil {
			return StartResult{}, apperr.Wrap(err, "store upload")
		}
		doc[FieldFilePath], doc[FieldSourceType] = pipeline.UploadPath(sum), SourceUpload
		doc[FieldTitle] = uploadTitle(cmd.Filename)
	}
	res, err := h.start.Handle(ctx, StartJob{Caller: cmd.Caller, JobID: jobID, Documents: []map[string]any{doc},
		Config: cmd.Config, OrgID: cmd.OrgID, uploads: true, serverID: true})
	// The one document is the request's pdf_url: name the field the caller
	// sent, not the start's documents[0].file_path.
	var ae *apperr.Error
	if errors.As(err, &ae) && cmd.URL != "" && strings.HasPrefix(ae.Field, "documents[0]") {
		named := *ae
		named.Field = "pdf_url"
		named.Message = strings.Replace(named.Message, ae.Field, "pdf_url", 1)
		return res, &named
	}
	return res, err
}

// uploadTitle is the upload's file name without any directory a browser
// sent, bounded, or "upload.pdf".
func uploadTitle(name string) string {
	name = strings.TrimSpace(path.Base(strings.ReplaceAll(name, `\`, "/")))
	if name == "" || name == "." || name == "/" {
		return "upload.pdf"
	}
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	return name
}

func uploadSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
