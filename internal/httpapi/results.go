package httpapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// ResultReader answers per-document queries.
type ResultReader interface {
	Page(ctx context.Context, jobID string, from, limit int) ([]projections.Result, int, bool, error)
	Rows(ctx context.Context, jobID string, rows []int) ([]projections.Result, error)
}

// EventReader reads a job's history straight from the log.
type EventReader interface {
	Read(ctx context.Context, filter string, from uint64, fn func(events.Envelope) error) error
}

const (
	defaultPage = 100
	maxPage     = 1000
)

// pageParams reads ?cursor= (an opaque offset) and ?limit=.
func pageParams(c *gin.Context) (int, int, error) {
	from, limit := 0, defaultPage
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, apperr.Field("cursor", "is not a cursor this server issued")
		}
		from = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return 0, 0, apperr.Field("limit", "must be between 1 and %d", maxPage)
		}
		limit = n
	}
	return from, limit, nil
}

func (s *Server) results(c *gin.Context) {
	job, err := s.visibleJob(c)
	if err != nil {
		fail(c, err)
		return
	}
	format, err := formatParam(c, "json", "csv", "xlsx")
	if err != nil {
		fail(c, err)
		return
	}
	if format != "json" {
		// A file holds the whole job: a page's cursor or limit would be
		// silently ignored, and a client asking for three rows would get
		// them all.
		for _, p := range []string{"cursor", "limit"} {
			if c.Query(p) != "" {
				fail(c, apperr.Field(p, "pages the JSON results; a %s export holds every row of the job", format))
				return
			}
		}
	}
	switch format {
	case "csv":
		s.resultsCSV(c, job)
		return
	case "xlsx":
		s.resultsXLSX(c, job)
		return
	}
	from, limit, err := pageParams(c)
	if err != nil {
		fail(c, err)
		return
	}
	rows, total, _, err := s.d.Results.Page(c.Request.Context(), job.ID, from, limit)
	if err != nil {
		fail(c, err)
		return
	}
	var next any
	if from+len(rows) < total {
		next = strconv.Itoa(from + len(rows))
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = resultRow(r)
	}
	c.JSON(http.StatusOK, gin.H{"job_id": job.ID, "total": total, "results": out, "next_cursor": next})
}

// resultRow flattens a result: system fields, outcome, metadata, and the
// client's own columns (which never override the system fields).
func resultRow(r projections.Result) map[string]any {
	row := map[string]any{}
	for k, v := range r.Extra {
		row[k] = v
	}
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	for k, v := range map[string]any{
		"row_id": r.Row, "title": r.Title, "file_path": r.FilePath, "file_source_type": r.SourceType,
		"description": r.Description, "status": r.Status, "tags": tags, "error": nullable(r.Error),
		"error_code": nullable(r.Code), "attempts": r.Attempts, "metadata": r.Metadata,
	} {
		row[k] = v
	}
	return row
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// MaxCSVExtraColumns is the export's column budget: every distinct client
// column becomes a column of every row, so 4 MB of rows with a different
// column each once made a 300 MB export.
const MaxCSVExtraColumns = 200

// csvPage is how many rows the export copies out of the read model at a
// time; rows are written and flushed page by page.
const csvPage = 500

// resultsCSV streams every row: the client's columns first, as uploaded,
// then the outcome columns. A first pass over the pages collects the
// column names (bounded by the budget, before anything is written); the
// second writes the rows. Both stop as soon as the client has gone.
func (s *Server) resultsCSV(c *gin.Context, job projections.Job) {
	ctx := c.Request.Context()
	extraCols, ok := s.extraColumns(c, job, "CSV")
	if !ok {
		return
	}
	// A large export takes a while: one write deadline per page, not one
	// for the whole answer.
	streaming(c.Writer)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-results.csv"`, job.ID))
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	s.writeDeadline(c.Writer)
	_ = w.Write(safeCells(exportHeader(job, extraCols)))
	for from := 0; ; from += csvPage {
		if ctx.Err() != nil {
			return
		}
		rows, total, _, err := s.d.Results.Page(ctx, job.ID, from, csvPage)
		if err != nil {
			s.abortStream("results export", err)
		}
		for _, r := range rows {
			_ = w.Write(safeCells(exportRow(r, extraCols)))
		}
		w.Flush()
		if w.Error() != nil {
			return // the client has gone or stopped reading
		}
		_ = http.NewResponseController(c.Writer).Flush()
		s.writeDeadline(c.Writer)
		if len(rows) < csvPage || from+len(rows) >= total {
			return
		}
	}
}

// extraColumns is the first pass of an export: the client's column names
// over every page, within the column budget (before anything is written),
// sorted. It stops when the client has gone.
func (s *Server) extraColumns(c *gin.Context, job projections.Job, format string) ([]string, bool) {
	extra := map[string]bool{}
	for from := 0; ; from += csvPage {
		if c.Request.Context().Err() != nil {
			return nil, false
		}
		rows, total, _, err := s.d.Results.Page(c.Request.Context(), job.ID, from, csvPage)
		if err != nil {
			fail(c, err)
			return nil, false
		}
		for _, r := range rows {
			for k := range r.Extra {
				extra[k] = true
			}
		}
		if len(extra) > MaxCSVExtraColumns {
			fail(c, apperr.New(apperr.Invalid,
				"the results have more than %d distinct extra columns, too many for one %s; use the JSON results (format=json) instead",
				MaxCSVExtraColumns, format))
			return nil, false
		}
		if len(rows) < csvPage || from+len(rows) >= total {
			break
		}
	}
	return orderedExtras(extra, job.Columns), true
}

// exportHeader and exportRow are the columns of the CSV and .xlsx exports:
// the client's columns first, as uploaded (in its order, mapped columns
// under its own names), then the outcome columns.
func exportHeader(job projections.Job, extraCols []string) []string {
	outcome := []string{"status", "tags", "error", "attempts", "pages_read", "extraction_method", "model", "total_tokens", "duration_ms"}
	taken := map[string]bool{"row_id": true}
	for _, c := range outcome {
		taken[c] = true
	}
	// The client's names keep theirs unless an export column has it (a
	// "model" column, a title column mapped from "row_id"): then they are
	// "model (column)", so no header names two columns.
	user := append(userNames(job.ColumnMapping, services.FieldTitle, services.FieldFilePath,
		services.FieldSourceType, services.FieldDescription), extraCols...)
	for i, name := range user {
		for taken[name] {
			name += " (column)"
		}
		taken[name], user[i] = true, name
	}
	header := append([]string{"row_id"}, user...)
	return append(header, outcome...)
}

func exportRow(r projections.Result, extraCols []string) []string {
	rec := []string{strconv.Itoa(r.Row), r.Title, r.FilePath, r.SourceType, r.Description}
	for _, k := range extraCols {
		rec = append(rec, cell(r.Extra[k]))
	}
	md := r.Metadata
	if md == nil {
		md = &events.TagMetadata{}
	}
	return append(rec, r.Status, strings.Join(r.Tags, "; "), r.Error, strconv.Itoa(r.Attempts),
		strconv.Itoa(md.PagesRead), md.Method, md.Model, strconv.Itoa(md.TotalTokens), strconv.FormatInt(md.DurationMS, 10))
}

func cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// safeCells defuses spreadsheet formula injection: a cell that a
// spreadsheet would evaluate gets a leading apostrophe (OWASP advice).
func safeCells(rec []string) []string {
	for i, v := range rec {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			rec[i] = "'" + v
		}
	}
	return rec
}

// auditEvent is one entry of a job's audit trail.
type auditEvent struct {
	Seq   uint64          `json:"seq"`
	Type  string          `json:"type"`
	Time  string          `json:"time"`
	Actor events.Actor    `json:"actor"`
	Data  json.RawMessage `json:"data"`
}

func (s *Server) jobEvents(c *gin.Context) {
	job, err := s.visibleJob(c)
	if err != nil {
		fail(c, err)
		return
	}
	var from uint64 = 1
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < 1 {
			fail(c, apperr.Field("cursor", "is not a cursor this server issued"))
			return
		}
		from = n
	}
	limit := maxPage
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10*maxPage {
			fail(c, apperr.Field("limit", "must be between 1 and %d", 10*maxPage))
			return
		}
		limit = n
	}
	// scope=job is the job-level audit view: only the job's own
	// transitions (started, paused, cancelled, retried, ended), read from
	// its control subject, so a 10,000-document job's cancel is on the
	// first page instead of behind every document event.
	subject := events.JobSubjects(job.ID)
	switch c.Query("scope") {
	case "", "all":
	case "job":
		subject = events.ControlSubject(job.ID)
	default:
		fail(c, apperr.Field("scope", "must be all or job"))
		return
	}
	out := []auditEvent{}
	var next any
	errStop := fmt.Errorf("page full")
	err = s.d.Events.Read(c.Request.Context(), subject, from, func(e events.Envelope) error {
		if len(out) == limit {
			next = strconv.FormatUint(e.Seq, 10)
			return errStop
		}
		out = append(out, newAuditEvent(e))
		return nil
	})
	if err != nil && err != errStop {
		fail(c, apperr.Wrap(err, "read events"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"job_id": job.ID, "events": out, "next_cursor": next})
}

// orderedExtras lists the extra columns in the client's order (recorded at
// start), then any it did not record sorted by name (jobs started before
// the order was recorded have none).
func orderedExtras(extra map[string]bool, order []string) []string {
	cols := make([]string, 0, len(extra))
	for _, k := range order {
		if extra[k] {
			cols = append(cols, k)
			delete(extra, k)
		}
	}
	rest := make([]string, 0, len(extra))
	for k := range extra {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	return append(cols, rest...)
}

// userNames heads each system field's column with the name the client
// mapped to it ("Document URL", not file_path), so their file reads back.
func userNames(mapping map[string]string, fields ...string) []string {
	byField := map[string]string{}
	for col, field := range mapping {
		byField[field] = col
	}
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f
		if col := byField[f]; col != "" {
			out[i] = col
		}
	}
	return out
}
