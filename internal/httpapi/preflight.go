package httpapi

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/csvin"
	"github.com/tagstream/tagstream/services"
)

// PathValidator runs pre-flight checks.
type PathValidator interface {
	Handle(ctx context.Context, cmd services.ValidatePaths) ([]services.PathResult, error)
}

type validateRequest struct {
	Documents     docRows           `json:"documents"`
	ColumnMapping map[string]string `json:"column_mapping"`
}

// A validation may check 1,000 remote paths, 8 at a time with 15 s each:
// without an overall deadline a request of silent URLs ran for half an
// hour. Rows not checked in time are reported invalid, with the reason.
const (
	DefaultValidateDeadline    = 30 * time.Second
	DefaultMaxValidatesPerUser = 2
)

func (s *Server) validatePaths(c *gin.Context) {
	user := caller(c).Actor.ID
	if !s.validating.acquire(user) {
		c.Header("Retry-After", "5")
		fail(c, apperr.New(apperr.RateLimited,
			"too many validations at once: at most %d per user; wait for one to finish", s.validating.max))
		return
	}
	defer s.validating.release(user)
	req := validateRequest{Documents: docRows{max: services.MaxValidateDocuments, per: "validation request"}}
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	docs, err := decodeDocuments(req.Documents.rows)
	if err != nil {
		fail(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.d.ValidateDeadline)
	defer cancel()
	res, err := s.d.Validate.Handle(ctx, services.ValidatePaths{Documents: docs, ColumnMapping: req.ColumnMapping})
	if err != nil {
		fail(c, err)
		return
	}
	out := gin.H{}
	if ctx.Err() != nil && c.Request.Context().Err() == nil {
		// Rows still being checked at the deadline failed with it.
		out["incomplete"] = true
		out["note"] = fmt.Sprintf("validation stopped after %s; rows not checked in time are marked invalid", s.d.ValidateDeadline)
	}
	valid := 0
	for _, r := range res {
		if r.Valid {
			valid++
		}
	}
	out["total"], out["valid"], out["invalid"], out["results"] = len(res), valid, len(res)-valid, res
	c.JSON(http.StatusOK, out)
}

// templateColumns documents the CSV columns a batch understands.
var templateColumns = []struct{ Name, Required, Description, Example1, Example2 string }{
	{"title", "no", "Document title (defaults to the file name)", "Water quality circular", "Annual report 2024"},
	{"file_path", "yes", "An http(s) URL, a path under the server's local root, or s3://bucket/key", "https://example.org/circular.pdf", "reports/annual-2024.pdf"},
	{"file_source_type", "no", "url, local or s3; inferred from file_path when empty", "url", "local"},
	{"description", "no", "Free text kept with the results", "Circular from the ministry", ""},
}

// columnRules serves the CSV rules the CLI applies (internal/csvin), so
// the console reads and auto-maps a file the same way.
func (s *Server) columnRules(c *gin.Context) {
	seps := make([]string, len(csvin.Separators))
	for i, r := range csvin.Separators {
		seps[i] = string(r)
	}
	c.JSON(http.StatusOK, gin.H{
		"separators": seps,
		"normalize":  "lower case; every run of characters other than a-z and 0-9 becomes one '_'; no '_' at either end",
		"fields":     csvin.Rules,
	})
}

// template serves a CSV template; ?format=json describes its columns.
func (s *Server) template(c *gin.Context) {
	format, err := formatParam(c, "csv", "json")
	if err != nil {
		fail(c, err)
		return
	}
	if format == "json" {
		cols := make([]gin.H, len(templateColumns))
		for i, col := range templateColumns {
			cols[i] = gin.H{"name": col.Name, "required": col.Required == "yes", "description": col.Description}
		}
		c.JSON(http.StatusOK, gin.H{"columns": cols, "notes": "Other columns are kept and returned with the results. " +
			"Columns with other names can be mapped to these fields with column_mapping."})
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="tagstream-template.csv"`)
	w := csv.NewWriter(c.Writer)
	row := func(f func(i int) string) []string {
		out := make([]string, len(templateColumns))
		for i := range templateColumns {
			out[i] = f(i)
		}
		return out
	}
	_ = w.Write(row(func(i int) string { return templateColumns[i].Name }))
	_ = w.Write(row(func(i int) string { return templateColumns[i].Example1 }))
	_ = w.Write(row(func(i int) string { return templateColumns[i].Example2 }))
	w.Flush()
}
