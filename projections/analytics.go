package projections

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/tagstream/tagstream/events"
)

// AnalyticsName is the analytics model's consumer name.
const AnalyticsName = "analytics"

// histogram counts values in buckets that grow by 10%, so percentiles are
// deterministic (equal after a rebuild) and memory stays bounded however
// many documents the log holds.
type histogram map[int]int

const bucketGrowth = 1.1

func (h histogram) add(v float64) {
	h[bucket(v)]++
}

// percentile returns the upper bound of the bucket holding the p-th value.
func (h histogram) percentile(p float64) float64 {
	total := 0
	keys := make([]int, 0, len(h))
	for k, n := range h {
		keys = append(keys, k)
		total += n
	}
	if total == 0 {
		return 0
	}
	sort.Ints(keys)
	rank := int(math.Ceil(p * float64(total)))
	seen := 0
	for _, k := range keys {
		seen += h[k]
		if seen >= rank {
			if k < 0 {
				return 1
			}
			return math.Round(math.Pow(bucketGrowth, float64(k+1)))
		}
	}
	return 0
}

type modelStats struct {
	Documents   int       `json:"documents"`
	Failed      int       `json:"failed"`
	TotalTokens int64     `json:"total_tokens"`
	Calls       int64     `json:"calls"`
	CostUSD     float64   `json:"cost_usd"`
	Durations   histogram `json:"durations"`
	Tokens      histogram `json:"tokens"`
}

type dayCount struct {
	Success int `json:"success"`
	Failed  int `json:"failed"`
}

// aggregate is one owner's statistics.
type aggregate struct {
	Days     map[string]*dayCount   `json:"days"`
	Models   map[string]*modelStats `json:"models"`
	Failures map[string]int         `json:"failures"` // "code\treason"
	Tags     map[string]int         `json:"tags"`
	Spend    map[string]*spend      `json:"spend"` // "day\tmodel"
}

// spend is one model's use on one day.
type spend struct {
	Documents        int     `json:"documents"`
	Calls            int64   `json:"calls"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	Cached           int     `json:"cached"`
}

func (s *spend) merge(o *spend) {
	s.Documents += o.Documents
	s.Calls += o.Calls
	s.PromptTokens += o.PromptTokens
	s.CompletionTokens += o.CompletionTokens
	s.CostUSD += o.CostUSD
	s.Cached += o.Cached
}

func newAggregate() *aggregate {
	return &aggregate{Days: map[string]*dayCount{}, Models: map[string]*modelStats{}, Failures: map[string]int{}, Tags: map[string]int{},
		Spend: map[string]*spend{}}
}

// Analytics aggregates document outcomes per job owner, so users see their
// own statistics and auditors everyone's.
type Analytics struct {
	mu      sync.RWMutex
	owners  map[string]string // job id -> owner id
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
	return &Analytics{owners: map[string]string{}, byOwner: map[string]*aggregate{}, counted: map[outcomeKey]bool{}}
}

// Name implements Projection.
func (a *Analytics) Name() string { return AnalyticsName }

// Apply implements Projection. Only outcomes count, and only the first of
// each document attempt: an event seen twice (a redelivery, a replay)
// changes nothing.
func (a *Analytics) Apply(env events.Envelope) error {
	if env.Type == events.TypeJobStarted {
		a.mu.Lock()
		if _, ok := a.owners[env.JobID]; !ok {
			a.owners[env.JobID] = env.Actor.ID
		}
		a.mu.Unlock()
		return nil
	}
	if env.Type != events.TypeDocumentTagged && env.Type != events.TypeDocumentFailed {
		return nil
	}
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	owner, ok := a.owners[env.JobID]
	if !ok {
		return nil
	}
	key := outcomeKey{job: env.JobID}
	switch e := ev.(type) {
	case *events.DocumentTagged:
		key.row, key.attempt = e.Row, e.Attempt
	case *events.DocumentFailed:
		key.row, key.attempt = e.Row, e.Attempt
	}
	if a.counted[key] {
		return nil
	}
	a.counted[key] = true
	g := a.byOwner[owner]
	if g == nil {
		g = newAggregate()
		a.byOwner[owner] = g
	}
	g.add(env, ev)
	return nil
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
	if env.Type == events.TypeDocumentFailed {
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

// DayCount is one day's outcomes.
type DayCount struct {
	Date    string `json:"date"`
	Success int    `json:"success"`
	Failed  int    `json:"failed"`
}

// ModelSummary is one model's outcome statistics.
type ModelSummary struct {
	Model         string  `json:"model"`
	Documents     int     `json:"documents"`
	Failed        int     `json:"failed"`
	DurationP50MS float64 `json:"duration_p50_ms"`
	DurationP95MS float64 `json:"duration_p95_ms"`
	TokensP50     float64 `json:"tokens_p50"`
	TokensP95     float64 `json:"tokens_p95"`
	TotalTokens   int64   `json:"total_tokens"`
	ModelCalls    int64   `json:"model_calls"`
	CostUSD       float64 `json:"cost_usd"`
}

// ModelDayUsage is one model's use and cost on one day (UTC).
type ModelDayUsage struct {
	Date             string  `json:"date"`
	Model            string  `json:"model"`
	Documents        int     `json:"documents"`
	ModelCalls       int64   `json:"model_calls"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	Cached           int     `json:"cached"`
}

// Count is a value and how often it occurred.
type Count struct {
	Value string `json:"value"`
	Code  string `json:"code,omitempty"`
	Count int    `json:"count"`
}

// Summary is the analytics read model's answer.
type Summary struct {
	DocumentsPerDay   []DayCount     `json:"documents_per_day"`
	Documents         int            `json:"documents"`
	SuccessRate       float64        `json:"success_rate"`
	Models            []ModelSummary `json:"models"`
	TopFailureReasons []Count        `json:"top_failure_reasons"`
	TopTags           []Count        `json:"top_tags"`
	// UsagePerModelDay sums calls, tokens and cost per model and day.
	UsagePerModelDay []ModelDayUsage `json:"usage_per_model_day"`
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

// summary is g's answer with the top n failure reasons and tags.
func (g *aggregate) summary(n int) Summary {
	s := Summary{DocumentsPerDay: []DayCount{}, Models: []ModelSummary{}, UsagePerModelDay: []ModelDayUsage{}}
	for k, sp := range g.Spend {
		day, model, _ := strings.Cut(k, "\t")
		s.UsagePerModelDay = append(s.UsagePerModelDay, ModelDayUsage{Date: day, Model: model, Documents: sp.Documents,
			ModelCalls: sp.Calls, PromptTokens: sp.PromptTokens, CompletionTokens: sp.CompletionTokens, CostUSD: sp.CostUSD, Cached: sp.Cached})
	}
	sort.Slice(s.UsagePerModelDay, func(i, j int) bool {
		a, b := s.UsagePerModelDay[i], s.UsagePerModelDay[j]
		if a.Date != b.Date {
			return a.Date < b.Date
		}
		return a.Model < b.Model
	})
	success := 0
	for day, d := range g.Days {
		s.DocumentsPerDay = append(s.DocumentsPerDay, DayCount{day, d.Success, d.Failed})
		success += d.Success
		s.Documents += d.Success + d.Failed
	}
	sort.Slice(s.DocumentsPerDay, func(i, j int) bool { return s.DocumentsPerDay[i].Date < s.DocumentsPerDay[j].Date })
	if s.Documents > 0 {
		s.SuccessRate = float64(success) / float64(s.Documents)
	}
	for name, m := range g.Models {
		s.Models = append(s.Models, ModelSummary{Model: name, Documents: m.Documents, Failed: m.Failed,
			DurationP50MS: m.Durations.percentile(0.5), DurationP95MS: m.Durations.percentile(0.95),
			TokensP50: m.Tokens.percentile(0.5), TokensP95: m.Tokens.percentile(0.95), TotalTokens: m.TotalTokens,
			ModelCalls: m.Calls, CostUSD: m.CostUSD})
	}
	sort.Slice(s.Models, func(i, j int) bool { return s.Models[i].Model < s.Models[j].Model })
	s.TopFailureReasons = top(g.Failures, n, true)
	s.TopTags = top(g.Tags, n, false)
	return s
}

func top(counts map[string]int, n int, coded bool) []Count {
	out := make([]Count, 0, len(counts))
	for k, c := range counts {
		item := Count{Value: k, Count: c}
		if coded {
			for i := 0; i < len(k); i++ {
				if k[i] == '\t' {
					item.Code, item.Value = k[:i], k[i+1:]
					break
				}
			}
		}
		out = append(out, item)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Code+out[i].Value < out[j].Code+out[j].Value
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Snapshot implements Projection.
func (a *Analytics) Snapshot() ([]byte, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return json.Marshal(map[string]any{"owners": a.owners, "aggregates": a.byOwner})
}
