package projections

import (
	"math"
	"sort"
	"strings"
)

// The analytics summary: its answer's types, and the aggregate and
// histogram SearchReader.Summary fills from the document-search tables.

// histogram counts values in buckets that grow by 10%, so percentiles are
// deterministic (equal after a rebuild) and memory stays bounded however
// many documents the log holds.
type histogram map[int]int

const bucketGrowth = 1.1

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
