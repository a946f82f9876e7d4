package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// State is what a scrape reads from the process itself, at scrape time, so
// the numbers are never stale and nothing has to be kept in step. A nil
// func leaves its metrics out (a worker-only process has no read models).
type State struct {
	JobsByStatus func() map[string]int                     // from the job-status read model
	Applied      func() uint64                             // last event applied by the read models
	LogLastSeq   func(ctx context.Context) (uint64, error) // last sequence in the event stream
	TaskBacklog  func(ctx context.Context) (uint64, error) // tasks waiting in TAGSTREAM_TASKS
	Timeout      time.Duration                             // bound on the NATS look-ups; default 2s
	// Projections reports each read model against the log's last
	// sequence (0 when unknown): state, checkpoint and lag.
	Projections func(ctx context.Context, last uint64) []Projection
	// ReadLease says whether this process applies the read models of a
	// database several processes share, and who does (shared false: the
	// database is this process's own; no series).
	ReadLease func() (held bool, holder string, shared bool)
}

// Projection is one read model's position, for the tagstream_projection_*
// series.
type Projection struct {
	Name       string
	State      string // running, rebuilding, failed
	Seq        uint64 // checkpoint
	LagEvents  uint64
	LagSeconds float64
}

// projectionStates are every state a projection series reports, so a
// series drops to 0 instead of vanishing when the state changes.
var projectionStates = []string{"running", "rebuilding", "failed"}

// Watch adds the scrape-time metrics of s to the registry.
func (m *Metrics) Watch(s State) {
	if s.Timeout <= 0 {
		s.Timeout = 2 * time.Second
	}
	m.reg.MustRegister(&stateCollector{s: s})
}

var (
	descJobs    = prometheus.NewDesc(ns+"_jobs", "Jobs by status, from the job-status read model.", []string{"status"}, nil)
	descApplied = prometheus.NewDesc(ns+"_read_models_applied_sequence",
		"Sequence of the last event this process's read models applied.", nil, nil)
	descLastSeq = prometheus.NewDesc(ns+"_event_log_last_sequence", "Last sequence in the event stream.", nil, nil)
	descLag     = prometheus.NewDesc(ns+"_read_models_lag_events",
		"Events in the log not yet applied by this process's read models (last sequence - applied).", nil, nil)
	descBacklog   = prometheus.NewDesc(ns+"_task_backlog", "Document tasks waiting or in progress in the task work queue.", nil, nil)
	descProjState = prometheus.NewDesc(ns+"_projection_state",
		"1 for each read model's current state (running, rebuilding, failed), else 0.", []string{"projection", "state"}, nil)
	descLease = prometheus.NewDesc(ns+"_projection_lease_held",
		"1 if this process holds the lease to apply the shared read database's models, else 0; holder names the process that does.",
		[]string{"holder"}, nil)
	descProjSeq = prometheus.NewDesc(ns+"_projection_checkpoint_sequence",
		"Sequence of the last event the read model committed with its checkpoint.", []string{"projection"}, nil)
	descProjLag = prometheus.NewDesc(ns+"_projection_lag_events",
		"Events in the log the read model has not committed yet.", []string{"projection"}, nil)
	descProjLagSec = prometheus.NewDesc(ns+"_projection_lag_seconds",
		"How far behind the log the read model is, in seconds (0 when caught up).", []string{"projection"}, nil)
	descUp = prometheus.NewDesc(ns+"_metrics_source_up",
		"1 when the scrape could read the source (event_log, task_queue) within its timeout, else 0.", []string{"source"}, nil)
)

type stateCollector struct{ s State }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descApplied, descLastSeq, descLag, descBacklog, descUp,
		descProjState, descProjSeq, descProjLag, descProjLagSec, descLease} {
		ch <- d
	}
}

// Collect asks NATS for the log end and the backlog in parallel under one
// short timeout: a slow or absent NATS must not hang the scrape, and a
// failed look-up shows as source_up 0 instead of failing every metric.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	if s.JobsByStatus != nil {
		for status, n := range s.JobsByStatus() {
			ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(n), status)
		}
	}
	var applied uint64
	if s.Applied != nil {
		applied = s.Applied()
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, float64(applied))
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	var wg sync.WaitGroup
	var last, backlog uint64
	var lastErr, backlogErr error
	if s.LogLastSeq != nil {
		wg.Add(1)
		go func() { defer wg.Done(); last, lastErr = s.LogLastSeq(ctx) }()
	}
	if s.TaskBacklog != nil {
		wg.Add(1)
		go func() { defer wg.Done(); backlog, backlogErr = s.TaskBacklog(ctx) }()
	}
	wg.Wait()
	if s.LogLastSeq != nil {
		ch <- up("event_log", lastErr)
		if lastErr == nil {
			ch <- prometheus.MustNewConstMetric(descLastSeq, prometheus.GaugeValue, float64(last))
			if s.Applied != nil {
				lag := uint64(0)
				if last > applied {
					lag = last - applied
				}
				ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag))
			}
		}
	}
	if s.Projections != nil {
		if lastErr != nil {
			last = 0
		}
		for _, p := range s.Projections(ctx, last) {
			for _, st := range projectionStates {
				v := 0.0
				if st == p.State {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(descProjState, prometheus.GaugeValue, v, p.Name, st)
			}
			ch <- prometheus.MustNewConstMetric(descProjSeq, prometheus.GaugeValue, float64(p.Seq), p.Name)
			ch <- prometheus.MustNewConstMetric(descProjLag, prometheus.GaugeValue, float64(p.LagEvents), p.Name)
			ch <- prometheus.MustNewConstMetric(descProjLagSec, prometheus.GaugeValue, p.LagSeconds, p.Name)
		}
	}
	if s.ReadLease != nil {
		if held, holder, shared := s.ReadLease(); shared {
			v := 0.0
			if held {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descLease, prometheus.GaugeValue, v, holder)
		}
	}
	if s.TaskBacklog != nil {
		ch <- up("task_queue", backlogErr)
		if backlogErr == nil {
			ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(backlog))
		}
	}
}

func up(source string, err error) prometheus.Metric {
	v := 1.0
	if err != nil {
		v = 0
	}
	return prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, v, source)
}
