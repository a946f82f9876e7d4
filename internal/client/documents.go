package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DocumentQuery is a search of GET /api/documents; empty fields are not
// sent.
type DocumentQuery struct {
	Q, Tag, JobID, Status, Since, Until string
	Limit                               int
	Cursor                              string
	All                                 bool   // every job the caller may read (see Scope)
	OrgID                               string // an organisation's documents, by the caller's role there
}

func (q DocumentQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"q": q.Q, "tag": q.Tag, "job_id": q.JobID, "status": q.Status,
		"since": q.Since, "until": q.Until, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	Scope{OrgID: q.OrgID, All: q.All}.set(v)
	return v
}

// Document is one document a search found.
type Document struct {
	JobID      string          `json:"job_id"`
	RowID      int             `json:"row_id"`
	OwnerEmail string          `json:"owner_email"`
	Title      string          `json:"title"`
	FilePath   string          `json:"file_path"`
	Status     string          `json:"status"`
	Tags       []string        `json:"tags"`
	Error      string          `json:"error"`
	CreatedAt  time.Time       `json:"created_at"`
	Raw        json.RawMessage `json:"-"`
}

// DocumentPage is one page of a search.
type DocumentPage struct {
	Documents  []json.RawMessage `json:"documents"`
	NextCursor *string           `json:"next_cursor"`
	Raw        json.RawMessage   `json:"-"`
}

// Docs decodes the page's documents.
func (p DocumentPage) Docs() ([]Document, error) {
	out := make([]Document, len(p.Documents))
	for i, raw := range p.Documents {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, err
		}
		out[i].Raw = raw
	}
	return out, nil
}

// Documents returns one page of a search.
func (c *Client) Documents(ctx context.Context, q DocumentQuery) (DocumentPage, error) {
	var p DocumentPage
	raw, err := c.call(ctx, request{method: http.MethodGet, path: "/api/documents", query: q.values(), auth: true}, &p)
	p.Raw = raw
	return p, err
}

// NextCursorTrailer names the trailer with which a CSV export that
// stopped at its row limit says where to continue.
const NextCursorTrailer = "X-Tagstream-Next-Cursor"

// ExportRowsHeader names the header with which a CSV export says how
// many rows it holds at most.
const ExportRowsHeader = "X-Tagstream-Export-Rows"

// CSVPart is one request's part of a CSV export.
type CSVPart struct {
	Data    []byte // exactly as the server wrote it, header line included
	Next    string // the cursor that continues the export; "" when it is complete
	MaxRows int    // the rows this part could hold (ExportRowsHeader)
}

// DocumentsCSV returns a search as CSV, one part of it per request.
func (c *Client) DocumentsCSV(ctx context.Context, q DocumentQuery) (CSVPart, error) {
	v := q.values()
	v.Set("format", "csv")
	raw, hdr, err := c.do(ctx, request{method: http.MethodGet, path: "/api/documents", query: v, auth: true})
	if err != nil {
		return CSVPart{}, err
	}
	n, _ := strconv.Atoi(hdr.Get(ExportRowsHeader))
	return CSVPart{Data: raw, Next: hdr.Get(NextCursorTrailer), MaxRows: n}, nil
}

// HistoryStats returns GET /api/history/stats as the server wrote it.
func (c *Client) HistoryStats(ctx context.Context, scope Scope) (json.RawMessage, error) {
	q := url.Values{}
	scope.set(q)
	return c.call(ctx, request{method: http.MethodGet, path: "/api/history/stats", query: q, auth: true}, nil)
}
