// Package metrics is Tagstream's Prometheus instrumentation. It owns one
// registry per process (never the global default, so tests and embedded
// uses do not collide) and implements the small observer interfaces that
// services, llm and httpapi declare, so none of them imports Prometheus.
//
// Labels are bounded on purpose: failure codes and model ids are capped
// (see capped), routes are gin's templates, statuses are classes. Job ids,
// user ids, keys and free-text reasons never become label values.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const ns = "tagstream"

// Caps on distinct label values; the rest is reported as "other".
const (
	maxModels = 20
	maxCodes  = 50
	maxTypes  = 20 // skipped event types
)

// Metrics holds the process's registry and instruments.
type Metrics struct {
	reg    *prometheus.Registry
	models *capped
	codes  *capped

	docsProcessed prometheus.Counter
	docsFailed    *prometheus.CounterVec
	docDuration   *prometheus.HistogramVec
	inFlight      prometheus.Gauge

	llmLatency     *prometheus.HistogramVec
	tokens         *prometheus.CounterVec
	rateWaits      prometheus.Counter
	rateWaitSecond prometheus.Counter

	httpDuration *prometheus.HistogramVec

	eventsSkipped *prometheus.CounterVec
	deadLettered  prometheus.Counter
	readers       *capped
	skipTypes     *capped
}

// New returns metrics on a fresh registry with the Go and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), models: newCapped(maxModels), codes: newCapped(maxCodes),
		readers: newCapped(8), skipTypes: &capped{max: maxTypes, seen: map[string]struct{}{}, keepCase: true}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{m.reg}
	m.docsProcessed = f.counter(prometheus.CounterOpts{Name: "documents_processed_total",
		Help: "Documents tagged successfully by this process's workers."})
	m.docsFailed = f.counterVec(prometheus.CounterOpts{Name: "documents_failed_total",
		Help: "Documents that failed in this process's workers, by failure code."}, "code")
	m.docDuration = f.histogramVec(prometheus.HistogramOpts{Name: "document_duration_seconds",
		Help:    "Time to tag one document (fetch, extract, model), by outcome (tagged|failed).",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300}}, "outcome")
	m.inFlight = f.gauge(prometheus.GaugeOpts{Name: "documents_in_flight",
		Help: "Document tasks this process is working on right now."})
	m.llmLatency = f.histogramVec(prometheus.HistogramOpts{Name: "llm_call_duration_seconds",
		Help:    "Latency of one model HTTP call, by model (first 20 seen, then other) and outcome (ok or the error kind).",
		Buckets: []float64{.1, .25, .5, 1, 2, 4, 8, 15, 30, 60, 120}}, "model", "outcome")
	m.tokens = f.counterVec(prometheus.CounterOpts{Name: "llm_tokens_total",
		Help: "Tokens reported by the model, by model and kind (prompt|completion)."}, "model", "kind")
	m.rateWaits = f.counter(prometheus.CounterOpts{Name: "llm_rate_limit_waits_total",
		Help: "Times a model call was held back by pacing, Retry-After or a 429 backoff."})
	m.rateWaitSecond = f.counter(prometheus.CounterOpts{Name: "llm_rate_limit_wait_seconds_total",
		Help: "Total time model calls were held back for rate limits (as scheduled)."})
	m.httpDuration = f.histogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds",
		Help:    "HTTP request duration by route template and status class (WebSocket and SSE routes measure the connection's life).",
		Buckets: prometheus.DefBuckets}, "route", "status")
	m.eventsSkipped = f.counterVec(prometheus.CounterOpts{Name: "events_skipped_total",
		Help: "Events a reader skipped because their type or version is newer than this build, by reader and type (first 20 types, then other)."},
		"reader", "type")
	m.deadLettered = f.counter(prometheus.CounterOpts{Name: "events_dead_lettered_total",
		Help: "Control events the dispatcher gave up on after its bounded deliveries (each also logged with its job and sequence)."})
	return m
}

// Registry is the registry, for callers that add their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// InFlight implements dispatch.WorkerMetrics.
func (m *Metrics) InFlight(delta int) { m.inFlight.Add(float64(delta)) }

// DocumentDone implements dispatch.WorkerMetrics: outcome "tagged" or
// "failed" with the failure code.
func (m *Metrics) DocumentDone(outcome, code string, d time.Duration) {
	switch outcome {
	case "tagged":
		m.docsProcessed.Inc()
	case "failed":
		m.docsFailed.WithLabelValues(m.codes.value(code)).Inc()
	default:
		outcome = Other
	}
	m.docDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// ModelCall implements llm.Observer.
func (m *Metrics) ModelCall(model, outcome string, d time.Duration) {
	m.llmLatency.WithLabelValues(m.models.value(model), clean(outcome)).Observe(d.Seconds())
}

// ModelTokens implements llm.Observer.
func (m *Metrics) ModelTokens(model string, prompt, completion int) {
	label := m.models.value(model)
	if prompt > 0 {
		m.tokens.WithLabelValues(label, "prompt").Add(float64(prompt))
	}
	if completion > 0 {
		m.tokens.WithLabelValues(label, "completion").Add(float64(completion))
	}
}

// RateLimitWait implements llm.Observer.
func (m *Metrics) RateLimitWait(d time.Duration) {
	if d <= 0 {
		return
	}
	m.rateWaits.Inc()
	m.rateWaitSecond.Add(d.Seconds())
}

// ObserveRequest implements httpapi.RequestObserver. An empty route (no
// route matched: the web console, 404s) is "other", never the raw path.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	if route == "" {
		route = Other
	}
	m.httpDuration.WithLabelValues(route, statusClass(status)).Observe(d.Seconds())
}

// EventSkipped counts an event a reader (projections, dispatcher, worker,
// observers) skipped because this build does not know its type or version.
func (m *Metrics) EventSkipped(reader, typ string) {
	m.eventsSkipped.WithLabelValues(m.readers.value(reader), m.skipTypes.value(typ)).Inc()
}

// EventDeadLettered counts a control event the dispatcher gave up on.
func (m *Metrics) EventDeadLettered() { m.deadLettered.Inc() }

// factory prefixes names and registers in one go.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(o prometheus.CounterOpts) prometheus.Counter {
	o.Namespace = ns
	c := prometheus.NewCounter(o)
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(o prometheus.CounterOpts, labels ...string) *prometheus.CounterVec {
	o.Namespace = ns
	c := prometheus.NewCounterVec(o, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(o prometheus.GaugeOpts) prometheus.Gauge {
	o.Namespace = ns
	g := prometheus.NewGauge(o)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogramVec(o prometheus.HistogramOpts, labels ...string) *prometheus.HistogramVec {
	o.Namespace = ns
	h := prometheus.NewHistogramVec(o, labels)
	f.reg.MustRegister(h)
	return h
}
