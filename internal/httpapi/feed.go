package httpapi

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

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

// watch is one observer's view of a job: a catchup message built from the
// read models as of sequence N, then every message from N+1 on.
type watch struct {
	catchup  []byte
	msgs     chan []byte // closed after the terminal message or on overflow
	overflow atomic.Bool
	untap    func()
}

// renderCache lets hundreds of watchers of one job share one rendering of
// each event; taps run one at a time under the runner's lock.
type renderCache struct {
	mu       sync.Mutex
	seq      uint64
	msg      []byte
	terminal bool
}

func (s *Server) watchJob(job projections.Job) *watch {
	w := &watch{msgs: make(chan []byte, feedBuffer)}
	finished := false
	w.untap = s.d.Tap.Tap(func(applied uint64) {
		current, _ := s.d.Jobs.Get(job.ID)
		rows, _, _ := s.d.Results.Page(job.ID, 0, 0)
		results := make([]map[string]any, len(rows))
		for i, r := range rows {
			results[i] = resultRow(r)
		}
		w.catchup, _ = json.Marshal(gin.H{"type": "catchup", "job_id": job.ID, "seq": applied,
			"state": statusView(current), "results": results})
		if events.Terminal(current.Status) {
			// Nothing more will happen: the terminal message follows at once.
			msg, _ := json.Marshal(controlMessage(current.Status, current, applied))
			w.msgs <- msg
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
		msg, terminal := s.render(env)
		if msg == nil {
			return true
		}
		select {
		case w.msgs <- msg:
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

// render turns an event into its observer message, once per event.
func (s *Server) render(env events.Envelope) ([]byte, bool) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq == env.Seq && c.msg != nil {
		return c.msg, c.terminal
	}
	job, _ := s.d.Jobs.Get(env.JobID)
	var body gin.H
	terminal := false
	switch env.Type {
	case events.TypeDocumentStarted, events.TypeDocumentTagged, events.TypeDocumentFailed:
		_, _, row, err := events.ParseSubject(env.Subject)
		if err != nil {
			return nil, false
		}
		rows := s.d.Results.Rows(env.JobID, []int{row})
		if len(rows) == 0 {
			return nil, false
		}
		body = gin.H{"type": "document", "event": env.Type}
		for k, v := range resultRow(rows[0]) {
			body[k] = v
		}
		for k, v := range counts(job) {
			body[k] = v
		}
	case events.TypeJobPaused:
		body = controlMessage("paused", job, env.Seq)
	case events.TypeJobResumed:
		body = controlMessage("resumed", job, env.Seq)
	case events.TypeJobRetried:
		body = controlMessage("retried", job, env.Seq)
	case events.TypeJobCompleted, events.TypeJobCancelled, events.TypeJobFailed:
		body = controlMessage(events.StatusAfter(env.Type), job, env.Seq)
		terminal = true
	default:
		return nil, false
	}
	body["seq"] = env.Seq
	body["time"] = env.Time
	msg, _ := json.Marshal(body)
	c.seq, c.msg, c.terminal = env.Seq, msg, terminal
	return msg, terminal
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

func counts(job projections.Job) gin.H {
	return gin.H{"job_id": job.ID, "progress": job.Progress(), "processed_count": job.Processed,
		"failed_count": job.Failed, "cancelled_count": job.Cancelled, "total_documents": job.Total}
}

// follow pumps a watch into send until it ends, ctx is done or send fails.
// It reports whether the watch ended because the client was too slow.
func (w *watch) follow(ctx context.Context, send func([]byte) error, tick <-chan struct{}, ping func() error) (slow bool, err error) {
	if err := send(w.catchup); err != nil {
		return false, err
	}
	for {
		select {
		case msg, ok := <-w.msgs:
			if !ok {
				return w.overflow.Load(), nil
			}
			if err := send(msg); err != nil {
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
