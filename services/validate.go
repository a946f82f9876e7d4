package services

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/fetch"
)

// PathChecker checks that a source looks fetchable without tagging it.
type PathChecker interface {
	Check(ctx context.Context, src fetch.Source) error
}

// ValidatePaths is the pre-flight check of a batch's documents.
type ValidatePaths struct {
	Documents     []map[string]any
	ColumnMapping map[string]string
}

// PathResult is one row's verdict.
type PathResult struct {
	Row        int    `json:"row_id"`
	FilePath   string `json:"file_path"`
	SourceType string `json:"file_source_type"`
	Valid      bool   `json:"valid"`
	Error      string `json:"error,omitempty"`
	Code       string `json:"error_code,omitempty"`
}

// MaxValidateDocuments bounds one pre-flight request: each row may cost a
// network round trip.
const MaxValidateDocuments = 1000

// ValidatePathsHandler handles ValidatePaths with the same fetch rules as
// tagging (size, content and private-address checks included).
type ValidatePathsHandler struct {
	checker  PathChecker
	parallel int
	timeout  time.Duration
}

// NewValidatePathsHandler returns a handler.
func NewValidatePathsHandler(c PathChecker) ValidatePathsHandler {
	return ValidatePathsHandler{checker: c, parallel: 8, timeout: 15 * time.Second}
}

// Handle checks every row; a bad row is a per-row verdict, not an error.
func (h ValidatePathsHandler) Handle(ctx context.Context, cmd ValidatePaths) ([]PathResult, error) {
	if len(cmd.Documents) == 0 {
		return nil, apperr.Field("documents", "at least one document is required")
	}
	if len(cmd.Documents) > MaxValidateDocuments {
		return nil, &apperr.Error{Code: apperr.TooLarge, Field: "documents",
			Message: "documents: at most 1000 documents per validation request"}
	}
	if err := checkMapping(cmd.ColumnMapping); err != nil {
		return nil, err
	}
	out := make([]PathResult, len(cmd.Documents))
	sem := make(chan struct{}, h.parallel)
	var wg sync.WaitGroup
	for i, row := range cmd.Documents {
		doc, err := normalizeRow(i, row, cmd.ColumnMapping, false)
		out[i] = PathResult{Row: i, FilePath: doc.FilePath, SourceType: doc.SourceType}
		if err != nil {
			out[i].Error, out[i].Code = apperr.Message(err), "invalid"
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, h.timeout)
			defer cancel()
			err := h.checker.Check(cctx, fetch.Source{Type: doc.SourceType, Path: doc.FilePath})
			if err == nil {
				out[i].Valid = true
				return
			}
			out[i].Error, out[i].Code = err.Error(), "fetch"
			var fe *fetch.Error
			if errors.As(err, &fe) {
				out[i].Code = fe.Code
			}
		}()
	}
	wg.Wait()
	return out, nil
}
