package projections

import (
	"encoding/json"
	"sync"

	"github.com/tagstream/tagstream/events"
)

// The in-memory analytics model lives on for tests only: serve answers
// the analytics summary from the document-search SQL model
// (SearchReader.Summary), and TestSearchSummaryEqualsTheInMemoryAnalytics
// holds the two to the same answers.

// AnalyticsName is the analytics model's consumer name.
const AnalyticsName = "analytics"

func (h histogram) add(v float64) {
	h[bucket(v)]++
}

// Analytics aggregates document outcomes per job owner, so users see their
// own statistics and auditors everyone's.
type Analytics struct {
	mu      sync.RWMutex
	owners  map[string]string     // job id -> owner id
	docs    map[string][]DocState // job id -> its documents, for a job's failure
	byOwner map[string]*aggregate
	counted map[outcomeKey]bool // document attempts already counted
}

// outcomeKey names one document attempt: only its first outcome counts.
type outcomeKey struct {
	job          string
	row, attempt int
}

var _ Projection = (*Analytics)(nil)

// NewAnalytics returns an empty model.
func NewAnalytics() *Analytics {
	return &Analytics{owners: map[string]string{}, docs: map[string][]DocState{}, byOwner: map[string]*aggregate{}, counted: map[outcomeKey]bool{}}
}

// Name implements Projection.
func (a *Analytics) Name() string { return AnalyticsName }

// Apply implements Projection. Only outcomes count, and only the first of
// each document attempt: an event seen twice (a redelivery, a replay)
// changes nothing.
func (a *Analytics) Apply(env events.Envelope) error {
	switch env.Type {
	case events.TypeJobStarted, events.TypeDocumentStarted, events.TypeDocumentReleased, events.TypeDocumentTagged,
		events.TypeDocumentFailed, events.TypeJobRetried, events.TypeJobCancelled, events.TypeJobFailed:
	default:
		return nil
	}
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := ev.(*events.JobStarted); ok {
		if _, ok := a.owners[env.JobID]; !ok {
			a.owners[env.JobID] = env.Actor.ID
			docs := make([]DocState, s.Total)
			for i := range docs {
				docs[i] = newDocState()
			}
			a.docs[env.JobID] = docs
		}
		return nil
	}
	owner, ok := a.owners[env.JobID]
	if !ok {
		return nil
	}
	docs := a.docs[env.JobID]
	step := func(row, attempt int) {
		if row >= 0 && row < len(docs) {
			docs[row], _ = docs[row].onDocEvent(env.Type, attempt)
		}
	}
	switch e := ev.(type) {
	case *events.DocumentStarted:
		step(e.Row, e.Attempt)
	case *events.DocumentReleased:
		step(e.Row, e.Attempt)
	case *events.DocumentTagged:
		a.count(owner, outcomeKey{env.JobID, e.Row, e.Attempt}, env, ev)
		step(e.Row, e.Attempt)
	case *events.DocumentFailed:
		a.count(owner, outcomeKey{env.JobID, e.Row, e.Attempt}, env, ev)
		step(e.Row, e.Attempt)
	case *events.JobRetried:
		for _, row := range e.Rows {
			if row >= 0 && row < len(docs) && docs[row].Attempt < e.Attempt {
				docs[row] = docs[row].onRetry(e.Attempt)
			}
		}
	case *events.JobCancelled, *events.JobFailed:
		for row := range docs {
			// A job's failure ends each unfinished attempt as failed.
			if f, ok := ev.(*events.JobFailed); ok && !TerminalDoc(docs[row].Status) {
				a.count(owner, outcomeKey{env.JobID, row, docs[row].Attempt}, env,
					&events.DocumentFailed{Row: row, Attempt: docs[row].Attempt, Error: f.Reason, Code: f.Code})
			}
			docs[row], _ = docs[row].onJobEnd(env.Type)
		}
	}
	return nil
}

// count adds an outcome to its owner's aggregate, once per document attempt.
func (a *Analytics) count(owner string, key outcomeKey, env events.Envelope, ev events.Event) {
	if a.counted[key] {
		return
	}
	a.counted[key] = true
	g := a.byOwner[owner]
	if g == nil {
		g = newAggregate()
		a.byOwner[owner] = g
	}
	g.add(env, ev)
}

func (g *aggregate) add(env events.Envelope, ev events.Event) {
	day := env.Time.UTC().Format("2006-01-02")
	d := g.Days[day]
	if d == nil {
		d = &dayCount{}
		g.Days[day] = d
	}
	var md events.TagMetadata
	switch e := ev.(type) {
	case *events.DocumentTagged:
		d.Success++
		md = e.Metadata
		for _, t := range e.Tags {
			g.Tags[t]++
		}
	case *events.DocumentFailed:
		d.Failed++
		md = e.Metadata
		reason := e.Error
		if len(reason) > 160 {
			reason = reason[:160]
		}
		g.Failures[e.Code+"\t"+reason]++
	}
	model := md.Model
	if model == "" {
		model = "unknown"
	}
	m := g.Models[model]
	if m == nil {
		m = &modelStats{Durations: histogram{}, Tokens: histogram{}}
		g.Models[model] = m
	}
	m.Documents++
	if _, failed := ev.(*events.DocumentFailed); failed {
		m.Failed++
	}
	m.Calls += int64(md.Calls)
	m.CostUSD += md.CostUSD
	sp := g.Spend[day+"\t"+model]
	if sp == nil {
		sp = &spend{}
		g.Spend[day+"\t"+model] = sp
	}
	sp.merge(&spend{Documents: 1, Calls: int64(md.Calls), PromptTokens: int64(md.PromptTokens),
		CompletionTokens: int64(md.CompletionTokens), CostUSD: md.CostUSD})
	if md.CachedFrom != 0 {
		sp.Cached++
	}
	m.Durations.add(float64(md.DurationMS))
	if md.TotalTokens > 0 {
		m.Tokens.add(float64(md.TotalTokens))
		m.TotalTokens += int64(md.TotalTokens)
	}
}

// merge adds o into g (for summaries over several owners).
func (g *aggregate) merge(o *aggregate) {
	for k, d := range o.Days {
		if g.Days[k] == nil {
			g.Days[k] = &dayCount{}
		}
		g.Days[k].Success += d.Success
		g.Days[k].Failed += d.Failed
	}
	for k, m := range o.Models {
		t := g.Models[k]
		if t == nil {
			t = &modelStats{Durations: histogram{}, Tokens: histogram{}}
			g.Models[k] = t
		}
		t.Documents += m.Documents
		t.Failed += m.Failed
		t.TotalTokens += m.TotalTokens
		t.Calls += m.Calls
		t.CostUSD += m.CostUSD
		for b, n := range m.Durations {
			t.Durations[b] += n
		}
		for b, n := range m.Tokens {
			t.Tokens[b] += n
		}
	}
	for k, n := range o.Failures {
		g.Failures[k] += n
	}
	for k, n := range o.Tags {
		g.Tags[k] += n
	}
	for k, sp := range o.Spend {
		if g.Spend[k] == nil {
			g.Spend[k] = &spend{}
		}
		g.Spend[k].merge(sp)
	}
}

// Summary returns one owner's statistics ("" for everyone's), with the top
// n failure reasons and tags.
func (a *Analytics) Summary(owner string, n int) Summary {
	a.mu.RLock()
	g := newAggregate()
	for id, o := range a.byOwner {
		if owner == "" || id == owner {
			g.merge(o)
		}
	}
	a.mu.RUnlock()
	return g.summary(n)
}

// Snapshot implements Projection.
func (a *Analytics) Snapshot() ([]byte, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return json.Marshal(map[string]any{"owners": a.owners, "aggregates": a.byOwner})
}
