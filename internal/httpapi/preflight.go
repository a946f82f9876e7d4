package httpapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/services"
)

// PathValidator runs pre-flight checks.
type PathValidator interface {
	Handle(ctx context.Context, cmd services.ValidatePaths) ([]services.PathResult, error)
}

type validateRequest struct {
	Documents     []json.RawMessage `json:"documents"`
	ColumnMapping map[string]string `json:"column_mapping"`
}

func (s *Server) validatePaths(c *gin.Context) {
	var req validateRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	docs, err := decodeDocuments(req.Documents)
	if err != nil {
		fail(c, err)
		return
	}
	res, err := s.d.Validate.Handle(c.Request.Context(), services.ValidatePaths{Documents: docs, ColumnMapping: req.ColumnMapping})
	if err != nil {
		fail(c, err)
		return
	}
	valid := 0
	for _, r := range res {
		if r.Valid {
			valid++
		}
	}
	c.JSON(http.StatusOK, gin.H{"total": len(res), "valid": valid, "invalid": len(res) - valid, "results": res})
}

// templateColumns documents the CSV columns a batch understands.
var templateColumns = []struct{ Name, Required, Description, Example1, Example2 string }{
	{"title", "no", "Document title (defaults to the file name)", "Water quality circular", "Annual report 2024"},
	{"file_path", "yes", "An http(s) URL, a path under the server's local root, or s3://bucket/key", "https://example.org/circular.pdf", "reports/annual-2024.pdf"},
	{"file_source_type", "no", "url, local or s3; inferred from file_path when empty", "url", "local"},
	{"description", "no", "Free text kept with the results", "Circular from the ministry", ""},
}

// template serves a CSV template; ?format=json describes its columns.
func (s *Server) template(c *gin.Context) {
	if c.Query("format") == "json" {
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
