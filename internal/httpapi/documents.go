package httpapi

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
)

// DocumentSearcher answers document search and history statistics from
// the document-search read model (projections.SearchReader).
type DocumentSearcher interface {
	Search(ctx context.Context, q projections.DocQuery) ([]projections.DocHit, int64, error)
	Stats(ctx context.Context, scope projections.Scope, n int) (projections.HistoryStats, error)
}

// Search limits: a page, the words of a query, and the rows one CSV
// export streams (a larger export continues from the cursor it ends with).
const (
	defaultSearchLimit = 50
	maxQueryChars      = 500
	MaxSearchCSVRows   = 100_000
	recentJobs         = 10
)

var validDocStatus = map[string]bool{projections.DocPending: true, projections.DocProcessing: true,
	projections.DocSuccess: true, projections.DocFailed: true, projections.DocCancelled: true}

// documentQuery reads GET /api/documents' parameters; a bad one is a 400
// naming it.
func documentQuery(c *gin.Context, exportRows int, cursors docCursors) (projections.DocQuery, error) {
	q := projections.DocQuery{JobID: c.Query("job_id"), Limit: defaultSearchLimit}
	var err error
	if q.Text, err = textParam(c, "q", maxQueryChars); err != nil {
		return q, err
	}
	if q.Tag, err = textParam(c, "tag", maxQueryChars); err != nil {
		return q, err
	}
	if q.JobID != "" && !events.ValidJobID(q.JobID) {
		return q, apperr.Field("job_id", "is not a job id")
	}
	for _, st := range strings.Split(c.Query("status"), ",") {
		if st = strings.TrimSpace(st); st == "" {
			continue
		}
		if !validDocStatus[st] {
			return q, apperr.Field("status", "unknown document status %q (pending, processing, success, failed, cancelled)", st)
		}
		q.Statuses = append(q.Statuses, st)
	}
	if q.Since, err = timeParam(c, "since", false); err != nil {
		return q, err
	}
	if q.Until, err = timeParam(c, "until", true); err != nil {
		return q, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, apperr.Field("until", "must be after since")
	}
	max := projections.MaxSearchLimit
	if exportRows > 0 {
		// An export's limit is how many rows the caller wants: past the
		// rows one request streams, the trailer's cursor continues it.
		max, q.Limit = math.MaxInt32, exportRows
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			return q, apperr.Field("limit", "must be between 1 and %d", max)
		}
		q.Limit = n
	}
	if exportRows > 0 {
		q.Limit = min(q.Limit, exportRows)
	}
	if v := c.Query("cursor"); v != "" {
		if q.After, err = cursors.decode(v); err != nil {
			return q, err
		}
	}
	return q, nil
}

// timeParam reads an RFC 3339 time or a date (UTC). A date as the upper
// bound means the end of that day, so until=2026-12-01 includes it.
func timeParam(c *gin.Context, name string, upper bool) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, apperr.Field(name, "must be a date (2026-12-01) or an RFC 3339 time (2026-12-01T09:00:00Z)")
	}
	if upper {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// searchFailed turns the model's errors into answers: a bad query is a
// 400 naming its field, anything else the read database's 503.
func searchFailed(c *gin.Context, err error) {
	var qe *projections.QueryError
	if errors.As(err, &qe) {
		fail(c, apperr.Field(qe.Field, "%s", qe.Reason))
		return
	}
	if c.Request.Context().Err() != nil {
		return // the client has gone
	}
	fail(c, errReadDB(err)) // logged with its cause; the answer does not carry SQL
}

func (s *Server) searcher(c *gin.Context) bool {
	if s.d.Documents == nil {
		fail(c, apperr.New(apperr.Unavailable, "document search is not available on this server"))
		return false
	}
	return true
}

// documents is GET /api/documents: a search over the caller's documents,
// newest first, one page per request (or all of it as CSV).
func (s *Server) documents(c *gin.Context) {
	format, err := formatParam(c, "json", "csv")
	if err != nil {
		fail(c, err)
		return
	}
	exportRows := 0
	if format == "csv" {
		exportRows = s.exportRows()
	}
	q, err := documentQuery(c, exportRows, s.cursors)
	if err != nil {
		fail(c, err)
		return
	}
	if !s.searcher(c) {
		return
	}
	scope, err := queryScope(c)
	if err != nil {
		fail(c, err)
		return
	}
	q.Owner, q.OrgID, q.Readable = scope.Owner, scope.OrgID, scope.Readable
	if format == "csv" {
		s.documentsCSV(c, q)
		return
	}
	hits, next, err := s.d.Documents.Search(c.Request.Context(), q)
	if err != nil {
		searchFailed(c, err)
		return
	}
	hits = keepReadable(c, hits)
	if len(hits) == 0 {
		hits = []projections.DocHit{}
	}
	c.JSON(http.StatusOK, gin.H{"documents": hits, "next_cursor": s.cursors.encode(next)})
}

// NextCursorTrailer carries, after a CSV export that stopped at its row
// limit, the cursor that continues it.
const NextCursorTrailer = "X-Tagstream-Next-Cursor"

// ExportRowsHeader tells, before the rows, how many this export holds at
// most (its limit): a browser's fetch cannot read trailers, so the
// console compares the rows it got with it to say when an export may
// have stopped short of the matches.
const ExportRowsHeader = "X-Tagstream-Export-Rows"

// exportRows is the rows one CSV export streams at most.
func (s *Server) exportRows() int {
	if s.d.ExportRows > 0 {
		return s.d.ExportRows
	}
	return MaxSearchCSVRows
}

var searchCSVHeader = []string{"job_id", "row_id", "owner_email", "title", "file_path", "status", "tags", "description",
	"extra", "error", "error_code", "model", "total_tokens", "cost_usd", "duration_ms", "created_at", "finished_at"}

// documentsCSV streams the search page by page: one page in memory at a
// time, a write deadline per page, stopping when the client goes.
func (s *Server) documentsCSV(c *gin.Context, q projections.DocQuery) {
	ctx := c.Request.Context()
	rows := q.Limit
	q.Limit = min(csvPage, rows)
	hits, next, err := s.d.Documents.Search(ctx, q)
	if err != nil {
		searchFailed(c, err) // nothing written yet: a bad query is still a 400
		return
	}
	streaming(c.Writer)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="documents.csv"`)
	c.Header("Trailer", NextCursorTrailer)
	c.Header(ExportRowsHeader, strconv.Itoa(rows))
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	s.writeDeadline(c.Writer)
	_ = w.Write(searchCSVHeader)
	for {
		for _, h := range keepReadable(c, hits) {
			_ = w.Write(safeCells(searchCSVRow(h)))
		}
		rows -= q.Limit // rows the search read: the export's bound
		w.Flush()
		if w.Error() != nil {
			return // the client has gone or stopped reading
		}
		_ = http.NewResponseController(c.Writer).Flush()
		s.writeDeadline(c.Writer)
		if next == 0 || ctx.Err() != nil {
			return
		}
		if rows == 0 {
			c.Writer.Header().Set(NextCursorTrailer, s.cursors.encode(next).(string))
			return
		}
		q.After, q.Limit = next, min(csvPage, rows)
		hits, next, err = s.d.Documents.Search(ctx, q)
		if err != nil {
			s.abortStream("document search export", err)
		}
	}
}

func searchCSVRow(h projections.DocHit) []string {
	fin := ""
	if h.FinishedAt != nil {
		fin = h.FinishedAt.Format(time.RFC3339)
	}
	return []string{h.JobID, strconv.Itoa(h.RowID), h.OwnerEmail, h.Title, h.FilePath, h.Status, strings.Join(h.Tags, "; "),
		h.Description, string(h.Extra), h.Error, h.ErrorCode, h.Model, strconv.FormatInt(h.TotalTokens, 10),
		strconv.FormatFloat(h.CostUSD, 'f', -1, 64), strconv.FormatInt(h.DurationMS, 10), h.CreatedAt.Format(time.RFC3339), fin}
}

// historyStats is GET /api/history/stats over the jobs of readScope.
func (s *Server) historyStats(c *gin.Context) {
	if !s.searcher(c) {
		return
	}
	scope, err := queryScope(c)
	if err != nil {
		fail(c, err)
		return
	}
	st, err := s.d.Documents.Stats(c.Request.Context(), scope, recentJobs)
	if err != nil {
		searchFailed(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}
