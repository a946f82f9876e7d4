package httpapi

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/sheet"
)

// MaxSheetBytes bounds a spreadsheet the console sends to be read (its
// base64 JSON body stays under MaxBodyBytes).
const MaxSheetBytes = 20 << 20

type sheetRequest struct {
	Data []byte `json:"data"` // the .xlsx file, base64 in JSON
}

// parseSheet reads an .xlsx for the console's start form with the same
// reader and budgets as the CLI, answering the columns and rows the
// browser's CSV parser would have produced: {headers, rows}.
func (s *Server) parseSheet(c *gin.Context) {
	var req sheetRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	if len(req.Data) > MaxSheetBytes {
		fail(c, &apperr.Error{Code: apperr.TooLarge, Field: "data", Message: "data: the spreadsheet is larger than 20 MiB"})
		return
	}
	maxDocs := s.d.MaxDocuments
	if maxDocs <= 0 {
		maxDocs = defaultMaxDocuments
	}
	// The inflated bound keeps a hostile workbook's shared strings, which
	// excelize holds in memory, well inside the server's memory limit; the
	// text bound its cells, which may each copy one (rows the console could
	// not send in a start request anyway).
	header, recs, err := sheet.ReadXLSX(bytes.NewReader(req.Data), sheet.Limits{MaxBytes: MaxSheetBytes,
		MaxUnzipBytes: 64 << 20, MaxRows: maxDocs, MaxColumns: MaxCSVExtraColumns + 4, MaxTextBytes: MaxBodyBytes})
	var se *sheet.Error
	if errors.As(err, &se) {
		fail(c, apperr.Field("data", "%s", se.Error()))
		return
	}
	if err != nil {
		fail(c, apperr.Wrap(err, "read spreadsheet"))
		return
	}
	rows := make([]map[string]string, len(recs))
	for i, rec := range recs {
		row := make(map[string]string, len(header))
		for j, h := range header {
			row[h] = rec[j]
		}
		rows[i] = row
	}
	c.JSON(http.StatusOK, gin.H{"headers": header, "rows": rows})
}
