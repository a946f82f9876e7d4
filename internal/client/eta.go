package client

import (
	"context"
	"net/http"
)

// ETA is a running job's pace: documents finished per minute over the
// server's recent window and the time left at that pace. Both are nil
// when the job is paused or finished, or before two documents finished.
type ETA struct {
	Status        string   `json:"status"`
	Remaining     int      `json:"remaining"`
	RatePerMinute *float64 `json:"rate_per_minute"`
	ETASeconds    *int64   `json:"eta_seconds"`
	WindowSeconds int      `json:"window_seconds"`
}

// ETA reads a job's pace (GET /api/batch/jobs/{id}/eta).
func (c *Client) ETA(ctx context.Context, jobID string) (ETA, error) {
	var e ETA
	_, err := c.call(ctx, request{method: http.MethodGet, path: jobPath(jobID, "/eta"), auth: true}, &e)
	return e, err
}
