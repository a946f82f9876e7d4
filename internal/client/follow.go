package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/coder/websocket"
)

// Progress is a snapshot of a followed job.
type Progress struct {
	Status    string
	Total     int
	Done      int // tagged successfully
	Failed    int
	Cancelled int
}

// Left is how many documents have no outcome yet.
func (p Progress) Left() int { return max(0, p.Total-p.Done-p.Failed-p.Cancelled) }

// FollowOptions tune Follow.
type FollowOptions struct {
	// NoWebSocket polls from the start, for networks whose proxies break
	// WebSockets.
	NoWebSocket bool
	// PollEvery is the polling interval; one second when zero.
	PollEvery time.Duration
	// OnProgress is told every change; it runs on Follow's goroutine.
	OnProgress func(Progress)
	// OnFallback is told once why live updates stopped and polling took over.
	OnFallback func(reason error)
}

// errNoTerminal means the WebSocket closed before the job finished.
var errNoTerminal = errors.New("live updates closed before the job finished")

// Follow watches a job until it is completed, failed or cancelled and
// returns its final status. It follows the WebSocket and falls back to
// polling the status endpoint when the socket cannot be opened or drops,
// so a missing endpoint or a proxy only costs latency, never the result.
func (c *Client) Follow(ctx context.Context, jobID string, o FollowOptions) (Job, error) {
	if o.OnProgress == nil {
		o.OnProgress = func(Progress) {}
	}
	// One status call first: it refreshes an expired access token before
	// the token is put into the WebSocket URL, and it reports an unknown
	// job as a plain 404 instead of a close code.
	j, err := c.Status(ctx, jobID)
	if err != nil {
		return Job{}, err
	}
	o.OnProgress(progressOf(j))
	if j.Terminal() {
		return j, nil
	}
	if !o.NoWebSocket {
		err := c.followWS(ctx, jobID, o.OnProgress)
		if ctx.Err() != nil {
			return Job{}, ctx.Err()
		}
		if err != nil && o.OnFallback != nil {
			o.OnFallback(err)
		}
		// After a terminal message the status is normally final already;
		// polling anyway covers a status read from a replica that lags.
	}
	return c.poll(ctx, jobID, o)
}

func progressOf(j Job) Progress {
	return Progress{Status: j.Status, Total: j.TotalDocuments, Done: j.ProcessedCount, Failed: j.FailedCount,
		Cancelled: j.CancelledCount}
}

// wsMessage is the union of the messages the job WebSocket sends.
type wsMessage struct {
	Type    string `json:"type"`
	State   *Job   `json:"state"`
	Results []struct {
		RowID  json.RawMessage `json:"row_id"`
		Status string          `json:"status"`
	} `json:"results"`
	RowID  json.RawMessage `json:"row_id"`
	Status string          `json:"status"` // the row's status on "document", the job's otherwise
	// Job counts, which newer servers put on every live message; when
	// present they are the authority over counting rows.
	Total     *int `json:"total_documents"`
	Processed *int `json:"processed_count"`
	Failed    *int `json:"failed_count"`
	Cancelled *int `json:"cancelled_count"`
}

// followWS returns nil once a terminal message arrived.
func (c *Client) followWS(ctx context.Context, jobID string, emit func(Progress)) error {
	u := *c.base
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path += "/api/batch/ws/" + url.PathEscape(jobID)
	u.RawQuery = url.Values{"token": {c.Tokens().AccessToken}}.Encode()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, resp, err := websocket.Dial(dctx, u.String(), nil)
	cancel()
	if err != nil {
		if resp != nil {
			return fmt.Errorf("live updates unavailable (HTTP %d)", resp.StatusCode)
		}
		return fmt.Errorf("live updates unavailable: %v", err)
	}
	defer conn.CloseNow()
	// The catchup carries every result row of the job; 10,000 rows with
	// tags fit easily in 64 MiB.
	conn.SetReadLimit(64 << 20)

	var p Progress
	rows := map[string]string{} // row id -> last status seen, so counts never double
	set := func(row, status string) {
		switch rows[row] {
		case "success":
			p.Done--
		case "failed":
			p.Failed--
		case "cancelled":
			p.Cancelled--
		}
		rows[row] = status
		switch status {
		case "success":
			p.Done++
		case "failed":
			p.Failed++
		case "cancelled":
			p.Cancelled++
		}
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusPolicyViolation {
				return fmt.Errorf("live updates refused (close 1008)")
			}
			return fmt.Errorf("%w: %v", errNoTerminal, err)
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			continue // an unknown message shape must not stop following
		}
		switch m.Type {
		case "catchup":
			if m.State != nil {
				p = progressOf(*m.State)
			}
			if len(m.Results) > 0 {
				p.Done, p.Failed, p.Cancelled = 0, 0, 0
				for _, r := range m.Results {
					set(string(r.RowID), r.Status)
				}
			}
		case "document":
			set(string(m.RowID), m.Status)
			if p.Status == "pending" || p.Status == "" {
				p.Status = "processing" // a document moved, so the job runs
			}
		case "paused", "resumed", "retried":
			p.Status = map[string]string{"paused": "paused", "resumed": "processing", "retried": "processing"}[m.Type]
		case "completed", "cancelled", "failed":
			p.Status = m.Type
		default:
			continue
		}
		if m.Type != "catchup" && m.Processed != nil && m.Failed != nil {
			p.Done, p.Failed = *m.Processed, *m.Failed
			if m.Cancelled != nil {
				p.Cancelled = *m.Cancelled
			}
			if m.Total != nil {
				p.Total = *m.Total
			}
		}
		emit(p)
		if m.Type == "completed" || m.Type == "cancelled" || m.Type == "failed" {
			return nil
		}
	}
}

// maxPollFailures bounds how long polling rides out connection errors (a
// server restart, say) before it gives up.
const maxPollFailures = 30

func (c *Client) poll(ctx context.Context, jobID string, o FollowOptions) (Job, error) {
	every := o.PollEvery
	if every <= 0 {
		every = pollEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failures := 0
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return Job{}, ctx.Err()
			case <-t.C:
			}
		}
		j, err := c.Status(ctx, jobID)
		if err != nil {
			// API errors other than 5xx (404, 401 after a failed refresh)
			// will not heal by waiting.
			if st := StatusOf(err); (st != 0 && st < 500) || ctx.Err() != nil {
				return Job{}, err
			}
			if failures++; failures >= maxPollFailures {
				return Job{}, err
			}
			continue
		}
		failures = 0
		o.OnProgress(progressOf(j))
		if j.Terminal() {
			return j, nil
		}
	}
}
