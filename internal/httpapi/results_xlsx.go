package httpapi

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/sheet"
	"github.com/tagstream/tagstream/projections"
)

// resultsXLSX is the CSV export as a spreadsheet: same columns, same
// budget, same defused cells. Rows go page by page into excelize's stream
// writer (bounded memory, the rest in a temporary file); the workbook is
// a zip whose directory comes last, so it is sent once complete.
func (s *Server) resultsXLSX(c *gin.Context, job projections.Job) {
	ctx := c.Request.Context()
	extraCols, ok := s.extraColumns(c, job, "spreadsheet")
	if !ok {
		return
	}
	w, err := sheet.NewWriter("Results")
	if err != nil {
		fail(c, apperr.Wrap(err, "xlsx"))
		return
	}
	defer w.Close()
	if err := w.WriteRow(safeCells(exportHeader(job, extraCols))); err != nil {
		fail(c, apperr.Wrap(err, "xlsx"))
		return
	}
	for from := 0; ; from += csvPage {
		if ctx.Err() != nil {
			return
		}
		rows, total, _, err := s.d.Results.Page(ctx, job.ID, from, csvPage)
		if err != nil {
			fail(c, err)
			return
		}
		for _, r := range rows {
			if err := w.WriteRow(safeCells(exportRow(r, extraCols))); err != nil {
				fail(c, apperr.Wrap(err, "xlsx"))
				return
			}
		}
		if len(rows) < csvPage || from+len(rows) >= total {
			break
		}
	}
	streaming(c.Writer)
	c.Header("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-results.xlsx"`, job.ID))
	c.Status(http.StatusOK)
	_ = w.Finish(renewingWriter{s: s, w: c.Writer})
}

// renewingWriter renews the write deadline before each write, so a large
// answer has time while a client that stops reading is still cut.
type renewingWriter struct {
	s *Server
	w http.ResponseWriter
}

func (d renewingWriter) Write(p []byte) (int, error) {
	d.s.writeDeadline(d.w)
	return d.w.Write(p)
}
