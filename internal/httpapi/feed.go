package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

// Tapper delivers applied events with a consistent starting snapshot.
type Tapper interface {
	Tap(snapshot func(applied uint64), deliver func(events.Envelope) bool) (untap func())
}

// feedBuffer is how many messages a watcher may fall behind before it is
// disconnected: a slow client must not grow the server's memory.
const feedBuffer = 1024

// catchupPage is how many result rows a catchup reads (and copies) under
// the read model's lock at a time: observers of a 10,000-document job
// must not each copy every row while holding it, nor keep the whole
// catchup in memory.
const catchupPage = 256

// watch is one observer's view of a job: a catchup message built from the
// read models as of sequence N, then every message from N+1 on.
type watch struct {
	job string
	// access is the observer's (accessView), so the console shows only
	// the buttons the caller may use.
	access   gin.H
	applied  uint64
	state    projections.Job
	results  ResultReader
	msgs     chan feedMsg // closed after the terminal message or on overflow
	overflow atomic.Bool
	untap    func()
	// ahead holds the rows the catchup showed at a later event than
	// applied (they changed while it was paged out), with that event's
	// sequence: their live messages up to it are already in the catchup.
	ahead map[int]uint64
	// since is the last event an SSE client saw before it reconnected
	// (Last-Event-ID): the catchup then carries only the rows changed
	// after it, so a resume shows every later outcome once and nothing
	// the client already has. 0 means a full catchup.
	since uint64
	// noRows leaves the rows out of the catchup (?results=none): a
	// console that shows one page of a big job reads that page itself
	// instead of receiving every row on each (re)connect.
	noRows bool
	// sent is the sequence of the message being sent, for SSE's "id:".
	sent uint64
}

// feedMsg is a rendered message, shared by every watcher of the job, with
// the row it is about (-1 for job messages) and its event's sequence.
type feedMsg struct {
	body []byte
	row  int
	seq  uint64
}

// renderCache lets hundreds of watchers of one job share one rendering of
// each event; taps run one at a time under the runner's lock.
type renderCache struct {
	mu       sync.Mutex
	seq      uint64
	msg      []byte
	row      int
	terminal bool
}

// DefaultMaxStreamsPerUser caps one user's WebSocket/SSE observers: each
// holds a connection, a goroutine and up to feedBuffer messages. 16, not
// 8: a user with a console in a few tabs and a CLI waiting on several jobs
// (the suite runs 12 observers of one user) must not be refused.
const DefaultMaxStreamsPerUser = 16

func (s *Server) watchJob(job projections.Job) *watch {
	w := &watch{job: job.ID, results: s.d.Results, msgs: make(chan feedMsg, feedBuffer)}
	finished := false
	w.untap = s.d.Tap.Tap(func(applied uint64) {
		// Under the runner's lock: only the job's small state is read
		// here; its rows are paged out later by writeCatchup.
		current, _, _ := s.d.Jobs.Get(context.Background(), job.ID)
		w.applied, w.state = applied, current
		if events.Terminal(current.Status) {
			// Nothing more will happen: the terminal message follows at once.
			msg, _ := json.Marshal(controlMessage(current.Status, current, applied))
			w.msgs <- feedMsg{body: msg, row: -1, seq: applied}
			close(w.msgs)
			finished = true
		}
	}, func(env events.Envelope) bool {
		if finished {
			return false
		}
		if env.JobID != job.ID {
			return true
		}
		msg, row, terminal := s.render(env)
		if msg == nil {
			return true
		}
		select {
		case w.msgs <- feedMsg{body: msg, row: row, seq: env.Seq}:
		default:
			w.overflow.Store(true)
			close(w.msgs)
			return false
		}
		if terminal {
			close(w.msgs)
			return false
		}
		return true
	})
	return w
}

// writeCatchup writes the catchup message (one JSON object, no newline)
// page by page. "seq" is the last event the state reflects; rows are read
// after it, so a row may already show a later event: such rows are noted
// in ahead, and follow drops their live messages up to that event, so
// every outcome reaches the client exactly once (catchup or live).
func (w *watch) writeCatchup(out io.Writer) error {
	state := statusView(w.state)
	for k, v := range w.access {
		state[k] = v
	}
	h := gin.H{"type": "catchup", "job_id": w.job, "seq": w.applied, "state": state}
	if w.since > 0 {
		h["since"] = w.since
	}
	if w.noRows {
		h["results_omitted"] = true
		b, _ := json.Marshal(h)
		_, err := out.Write(b)
		return err
	}
	head, _ := json.Marshal(h)
	// Reopen the object to append "results" as a streamed array.
	if _, err := out.Write(append(head[:len(head)-1], `,"results":[`...)); err != nil {
		return err
	}
	first := true
	for from := 0; ; from += catchupPage {
		rows, total, _, err := w.results.Page(context.Background(), w.job, from, catchupPage)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		for _, r := range rows {
			if w.since > 0 && r.Seq <= w.since {
				continue // the resuming client has this row as it is
			}
			if r.Seq > w.applied {
				if w.ahead == nil {
					w.ahead = map[int]uint64{}
				}
				w.ahead[r.Row] = r.Seq
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			b, err := json.Marshal(resultRow(r))
			if err != nil {
				return err
			}
			buf.Write(b)
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
		if len(rows) < catchupPage || from+len(rows) >= total {
			break
		}
	}
	_, err := io.WriteString(out, "]}")
	return err
}

// render turns an event into its observer message, once per event.
func (s *Server) render(env events.Envelope) (msg []byte, row int, terminal bool) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq == env.Seq && c.msg != nil {
		return c.msg, c.row, c.terminal
	}
	msg, row, terminal = s.renderNew(env)
	if msg != nil {
		c.seq, c.msg, c.row, c.terminal = env.Seq, msg, row, terminal
	}
	return msg, row, terminal
}

func (s *Server) renderNew(env events.Envelope) ([]byte, int, bool) {
	row := -1
	job, _, _ := s.d.Jobs.Get(context.Background(), env.JobID)
	var body gin.H
	terminal := false
	switch env.Type {
	case events.TypeDocumentStarted, events.TypeDocumentTagged, events.TypeDocumentFailed, events.TypeDocumentReleased:
		_, _, r, err := events.ParseSubject(env.Subject)
		if err != nil {
			return nil, -1, false
		}
		rows, _ := s.d.Results.Rows(context.Background(), env.JobID, []int{r})
		if len(rows) == 0 {
			return nil, -1, false
		}
		if rows[0].Seq > env.Seq {
			// The row is already past this event (its outcome was applied
			// in the same batch): the later event's message shows it.
			// Rendered here it told observers the outcome twice, once as
			// the start's.
			return nil, -1, false
		}
		row = r
		body = gin.H{"type": "document", "event": env.Type}
		for k, v := range resultRow(rows[0]) {
			body[k] = v
		}
		for k, v := range counts(job) {
			body[k] = v
		}
		// "status" is the document's; the job's own travels beside it, so
		// a console shows pending -> processing without asking.
		body["job_status"] = job.Status
	case events.TypeJobPaused:
		body = controlMessage("paused", job, env.Seq)
	case events.TypeJobResumed:
		body = controlMessage("resumed", job, env.Seq)
	case events.TypeJobRetried:
		body = controlMessage("retried", job, env.Seq)
	case events.TypeJobCompleted, events.TypeJobCancelled, events.TypeJobFailed:
		// The read model's status when it has applied this event, not the
		// event's name: a completion that leaves cancelled documents reads
		// "cancelled" (services/job).
		kind := job.Status
		if !events.Terminal(kind) {
			kind = terminalName[env.Type]
		}
		body = controlMessage(kind, job, env.Seq)
		terminal = true
	default:
		return nil, -1, false
	}
	body["seq"] = env.Seq
	body["time"] = env.Time
	msg, _ := json.Marshal(body)
	return msg, row, terminal
}

// terminalName names the message of an event that ends a job when the
// job snapshot at hand predates it.
var terminalName = map[string]string{
	events.TypeJobCompleted: events.StatusCompleted,
	events.TypeJobCancelled: events.StatusCancelled,
	events.TypeJobFailed:    events.StatusFailed,
}

func controlMessage(kind string, job projections.Job, seq uint64) gin.H {
	m := gin.H{"type": kind, "job_id": job.ID, "status": job.Status, "seq": seq}
	if job.Reason != "" {
		m["reason"] = job.Reason
	}
	for k, v := range counts(job) {
		m[k] = v
	}
	return m
}

// counts rides on every message; usage with it, so a console shows the
// cost grow without re-reading the status.
func counts(job projections.Job) gin.H {
	return gin.H{"job_id": job.ID, "progress": job.Progress(), "processed_count": job.Processed,
		"failed_count": job.Failed, "cancelled_count": job.Cancelled, "total_documents": job.Total, "usage": job.Usage}
}

// follow pumps a watch into the client until it ends, ctx is done or a
// write fails: catchup streams the catchup message, send the later ones.
// It reports whether the watch ended because the client was too slow.
func (w *watch) follow(ctx context.Context, catchup func(func(io.Writer) error) error, send func([]byte) error,
	tick <-chan struct{}, ping func() error) (slow bool, err error) {
	w.sent = w.applied
	if err := catchup(w.writeCatchup); err != nil {
		return false, err
	}
	for {
		select {
		case msg, ok := <-w.msgs:
			if !ok {
				return w.overflow.Load(), nil
			}
			if msg.row >= 0 && msg.seq <= w.ahead[msg.row] {
				continue // the catchup already showed this row at or after it
			}
			if msg.row >= 0 && msg.seq <= w.since {
				continue // a resuming client saw it before it reconnected
			}
			w.sent = msg.seq
			if err := send(msg.body); err != nil {
				return false, err
			}
		case <-tick:
			if err := ping(); err != nil {
				return false, err
			}
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// pinger ticks every pingEvery until stop is called or ctx ends; the
// goroutine always exits (a bare "for range ticker.C" never did, since
// Stop does not close the channel).
func pinger(ctx context.Context) (tick <-chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				select {
				case ch <- struct{}{}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, func() { cancel(); <-done }
}
