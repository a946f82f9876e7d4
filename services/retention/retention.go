// Package retention erases the document data of an organisation's jobs a
// set number of days after they ended (the organisation's retention_days,
// an OrgSettingsChanged event). It reads only the log: the organisations'
// settings from orgs.* and each job's organisation and end from its
// control events, folded incrementally, so it runs in any process that
// has the store. Erasing is the erase command's (Eraser): it refuses a
// job under legal hold (Conflict), which the next sweep tries again.
//
// Several processes may sweep at once: the erase command is guarded by
// the job's control sequence and erasing an erased job does nothing, so
// the outcome is the same as one sweeper's.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services/org"
)

// Eraser erases one job's document data (the erase command). It returns
// an apperr Conflict when the job may not be erased now (legal hold) and
// nil for a job erased already.
type Eraser interface {
	Erase(ctx context.Context, actor events.Actor, jobID, reason string) error
}

// DefaultInterval is how often Run sweeps.
const DefaultInterval = time.Hour

// Config tunes a Sweeper; zero fields take defaults.
type Config struct {
	Interval time.Duration    // between sweeps; DefaultInterval
	Now      func() time.Time // the clock; time.Now (tests move it)
	Log      *slog.Logger
}

// Sweeper finds the jobs whose retention period is over and erases them.
type Sweeper struct {
	store  events.Store
	eraser Eraser
	cfg    Config

	mu     sync.Mutex // one sweep at a time
	jobSeq uint64     // last control event folded
	orgSeq uint64     // last organisation event folded
	orgs   map[string]*org.State
	jobs   map[string]*ended // organisation jobs not (yet) erased by this sweeper
}

// ended is what the sweeper knows of one organisation job.
type ended struct {
	orgID string
	at    time.Time // when it ended; zero while it runs
}

// New returns a sweeper over store that erases through eraser.
func New(store events.Store, eraser Eraser, cfg Config) *Sweeper {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Sweeper{store: store, eraser: eraser, cfg: cfg, orgs: map[string]*org.State{}, jobs: map[string]*ended{}}
}

// Result is what one sweep did.
type Result struct {
	Erased  []string // erased now
	Refused []string // the erase command refused (legal hold): tried again next sweep
	Failed  []string // other errors: tried again next sweep
}

// Run sweeps at once and then every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("retention sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep reads the log up to its end and erases every organisation job
// that ended more than the organisation's retention_days ago.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res Result
	if err := s.catchUp(ctx); err != nil {
		return res, err
	}
	now := s.cfg.Now()
	for _, id := range s.due(now) {
		orgID := s.jobs[id].orgID
		days := s.orgs[orgID].Settings.RetentionDays
		reason := fmt.Sprintf("retention: the organisation keeps document data %d days after a job ends", days)
		err := s.eraser.Erase(ctx, events.System, id, reason)
		switch apperr.Code(err) {
		case "":
			// Done: its later events (the erasure itself) are ignored.
			delete(s.jobs, id)
			res.Erased = append(res.Erased, id)
			s.cfg.Log.Info("retention: job erased", "job_id", id, "org_id", orgID, "retention_days", days)
		case apperr.Conflict:
			res.Refused = append(res.Refused, id)
			s.cfg.Log.Info("retention: job not erased now", "job_id", id, "reason", err)
		case apperr.NotFound:
			delete(s.jobs, id) // nothing to erase
		default:
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Failed = append(res.Failed, id)
			s.cfg.Log.Warn("retention: erase failed", "job_id", id, "err", err)
		}
	}
	return res, nil
}

// due lists the jobs whose organisation's period has run out by now,
// oldest first.
func (s *Sweeper) due(now time.Time) []string {
	var out []string
	for id, j := range s.jobs {
		st := s.orgs[j.orgID]
		if j.at.IsZero() || st == nil || st.Settings.RetentionDays <= 0 {
			continue
		}
		if !j.at.After(now.Add(-time.Duration(st.Settings.RetentionDays) * 24 * time.Hour)) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(a, b int) bool { return s.jobs[out[a]].at.Before(s.jobs[out[b]].at) })
	return out
}

// catchUp folds the organisation and control events stored since the
// last sweep.
func (s *Sweeper) catchUp(ctx context.Context) error {
	err := s.store.Read(ctx, events.SubjectAllOrgs, s.orgSeq+1, func(env events.Envelope) error {
		s.orgSeq = env.Seq
		st := s.orgs[env.JobID]
		if st == nil {
			st = org.New(env.JobID)
			s.orgs[env.JobID] = st
		}
		if err := st.Apply(env); err != nil && !events.IsUnknown(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read organisations: %w", err)
	}
	err = s.store.Read(ctx, events.SubjectAllControl, s.jobSeq+1, func(env events.Envelope) error {
		s.jobSeq = env.Seq
		ev, err := env.Decode()
		if err != nil {
			return nil // a newer release's event: it neither starts nor ends a job here
		}
		s.fold(env, ev)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read job events: %w", err)
	}
	return nil
}

// fold tracks an organisation job's end: a terminal event ends it, a
// retry runs it again (and its period starts over when it ends again).
func (s *Sweeper) fold(env events.Envelope, ev events.Event) {
	if e, ok := ev.(*events.JobStarted); ok {
		if e.OrgID != "" {
			s.jobs[env.JobID] = &ended{orgID: e.OrgID}
		}
		return
	}
	j := s.jobs[env.JobID]
	if j == nil {
		return // not an organisation's job
	}
	switch ev.(type) {
	case *events.JobCompleted, *events.JobFailed, *events.JobCancelled:
		j.at = env.Time
	case *events.JobRetried:
		j.at = time.Time{}
	case *events.JobErased:
		delete(s.jobs, env.JobID) // done: a restart must not erase it again
	}
}
