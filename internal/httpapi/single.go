package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services"
)

// SingleProcessor tags one document as a one-document job.
type SingleProcessor interface {
	Handle(ctx context.Context, cmd services.ProcessSingle) (services.StartResult, error)
	MaxBytes() int64
}

// singlePath is the route whose body may be larger than MaxBodyBytes (an
// upload is bounded by the fetch cap instead, see processSingle).
const singlePath = "/api/single/process"

// DefaultSingleWait is how long POST /api/single/process waits for its
// job's outcome when Deps.SingleWait is zero.
const DefaultSingleWait = 5 * time.Minute

// Bounds of the small multipart fields.
const (
	maxConfigPart = 64 << 10
	maxURLPart    = 8 << 10
	multipartSlop = 1 << 20 // headers and boundaries around the parts
)

// processSingle starts a one-document job through the ordinary start
// command and answers with its outcome once the read models show it, or
// 202 with the job id when the wait runs out (the job goes on).
func (s *Server) processSingle(c *gin.Context) {
	if s.d.Single == nil {
		fail(c, apperr.New(apperr.NotFound, "no route for POST %s on this server", singlePath))
		return
	}
	cmd, err := s.decodeSingle(c)
	if err != nil {
		fail(c, err)
		return
	}
	cmd.Caller = caller(c)
	res, err := s.d.Single.Handle(c.Request.Context(), cmd)
	if err != nil {
		fail(c, err)
		return
	}
	wait := s.d.SingleWait
	if wait <= 0 {
		wait = DefaultSingleWait
	}
	// The answer is written after the wait: the write deadline starts then.
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(wait + s.timeouts.Write))
	ctx, cancel := context.WithTimeout(c.Request.Context(), wait)
	defer cancel()
	done := s.waitTerminal(ctx, res.JobID)
	s.writeDeadline(c.Writer)
	if c.Request.Context().Err() != nil {
		return // the client left; the job goes on and shows in history
	}
	status := http.StatusOK
	if !done {
		status = http.StatusAccepted
	}
	c.JSON(status, s.singleView(res.JobID))
}

// waitTerminal reports whether the job reached a terminal status before
// ctx ended. The runner's tap wakes it after each applied event of the
// job, so nothing polls.
func (s *Server) waitTerminal(ctx context.Context, jobID string) bool {
	if s.d.Tap == nil {
		return s.terminal(jobID)
	}
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	untap := s.d.Tap.Tap(func(uint64) { poke() }, func(env events.Envelope) bool {
		if env.JobID == jobID {
			poke()
		}
		return true
	})
	defer untap()
	for {
		select {
		case <-wake:
			if s.terminal(jobID) {
				return true
			}
		case <-ctx.Done():
			return s.terminal(jobID)
		}
	}
}

func (s *Server) terminal(jobID string) bool {
	j, ok, err := s.d.Jobs.Get(context.Background(), jobID)
	if err != nil || !ok {
		return false
	}
	switch j.Status {
	case events.StatusCompleted, events.StatusFailed, events.StatusCancelled:
		return true
	}
	return false
}

// singleView is {job_id, title, status, tags, metadata, error}; status is
// the document's (success, failed, ...), or the job's while it has none.
func (s *Server) singleView(jobID string) gin.H {
	out := gin.H{"job_id": jobID, "title": "", "status": events.StatusPending, "tags": []string{},
		"metadata": nil, "error": nil}
	if j, ok, _ := s.d.Jobs.Get(context.Background(), jobID); ok {
		out["status"] = j.Status
	}
	if rows, _ := s.d.Results.Rows(context.Background(), jobID, []int{0}); len(rows) == 1 {
		r := rows[0]
		out["title"] = r.Title
		if r.Status != "" {
			out["status"] = r.Status
		}
		if r.Tags != nil {
			out["tags"] = r.Tags
		}
		if r.Metadata != nil {
			out["metadata"] = r.Metadata
		}
		out["error"] = nullable(r.Error)
	}
	return out
}

// decodeSingle reads the multipart body: pdf_file (bounded by the fetch
// cap: 413 beyond), pdf_url and config (small, bounded), nothing else.
func (s *Server) decodeSingle(c *gin.Context) (services.ProcessSingle, error) {
	var cmd services.ProcessSingle
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "multipart/form-data" {
		return cmd, apperr.New(apperr.Invalid, "the body must be multipart/form-data with pdf_file or pdf_url, and config")
	}
	maxFile := s.d.Single.MaxBytes()
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFile+maxConfigPart+maxURLPart+multipartSlop)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return cmd, apperr.New(apperr.Invalid, "malformed multipart body: %v", err)
	}
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return cmd, bodyError(err, "malformed multipart body")
		}
		name := part.FormName()
		if seen[name] {
			return cmd, apperr.Field(name, "is given more than once")
		}
		seen[name] = true
		switch name {
		case "pdf_file":
			data, err := readPart(part, maxFile, name)
			if err != nil {
				return cmd, err
			}
			cmd.Upload, cmd.Filename = data, part.FileName()
			if cmd.Upload == nil {
				cmd.Upload = []byte{}
			}
		case "pdf_url":
			data, err := readPart(part, maxURLPart, name)
			if err != nil {
				return cmd, err
			}
			cmd.URL = string(data)
		case "config":
			data, err := readPart(part, maxConfigPart, name)
			if err != nil {
				return cmd, err
			}
			var sc startConfig
			if err := decodeJSON(bytes.NewReader(data), &sc, true); err != nil {
				return cmd, apperr.Field("config", "%s", apperr.Message(err))
			}
			cmd.Config = sc.command()
		case "org_id":
			data, err := readPart(part, maxURLPart, name)
			if err != nil {
				return cmd, err
			}
			cmd.OrgID = strings.TrimSpace(string(data))
		default:
			return cmd, apperr.Field(name, "is not a field of this request (pdf_file, pdf_url, config, org_id)")
		}
	}
	return cmd, nil
}

// readPart reads at most max bytes of a part: more is 413 naming it.
func readPart(r io.Reader, max int64, field string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, bodyError(err, field+": could not be read")
	}
	if int64(len(data)) > max {
		return nil, &apperr.Error{Code: apperr.TooLarge, Field: field, Message: fmt.Sprintf("%s: more than the %d bytes allowed", field, max)}
	}
	return data, nil
}

// bodyError is 413 for a body over the limit, the body timeout as is,
// otherwise 400.
func bodyError(err error, what string) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return apperr.New(apperr.TooLarge, "request body exceeds %d bytes", mbe.Limit)
	case errors.Is(err, errBodyTimeout):
		return err
	}
	return apperr.New(apperr.Invalid, "%s: %v", what, err)
}

type exclusionsRequest struct {
	Text string `json:"text"`
}

// parseExclusions is the console's access to the exclusion list parser,
// so a list file means the same in the browser and in the CLI.
func (s *Server) parseExclusions(c *gin.Context) {
	var req exclusionsRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	words, err := services.ParseExclusionList("text", req.Text)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"words": words})
}
