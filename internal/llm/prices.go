package llm

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	InputPerM  float64 `json:"input"`
	OutputPerM float64 `json:"output"`
}

// Prices maps a model name, as jobs name it, to its price.
type Prices map[string]Price

// DefaultPrices are the list prices OpenAI published in 2024 for the
// models the README suggests (through OpenRouter, which passes them on).
// Prices change: TAGSTREAM_MODEL_PRICES overrides and extends them.
var DefaultPrices = Prices{
	"openai/gpt-4o-mini": {InputPerM: 0.15, OutputPerM: 0.60},
	"gpt-4o-mini":        {InputPerM: 0.15, OutputPerM: 0.60},
	"openai/gpt-4o":      {InputPerM: 2.50, OutputPerM: 10.00},
	"gpt-4o":             {InputPerM: 2.50, OutputPerM: 10.00},
}

// ParsePrices reads TAGSTREAM_MODEL_PRICES on top of DefaultPrices: a
// JSON object {"model": {"input": 0.15, "output": 0.6}}, given inline or as
// the path of a file holding it, or a list "model=in/out,model=in/out"
// (dollars per million tokens). "" means the defaults alone.
func ParsePrices(spec string) (Prices, error) {
	out := Prices{}
	for m, p := range DefaultPrices {
		out[m] = p
	}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return out, nil
	}
	raw := []byte(spec)
	if !strings.HasPrefix(spec, "{") && !strings.Contains(spec, "=") {
		b, err := os.ReadFile(spec)
		if err != nil {
			return nil, fmt.Errorf("TAGSTREAM_MODEL_PRICES: neither JSON, model=in/out pairs nor a readable file: %v", err)
		}
		raw = b
	}
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "{") {
		var m Prices
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("TAGSTREAM_MODEL_PRICES: invalid JSON: %v", err)
		}
		for name, p := range m {
			if p.InputPerM < 0 || p.OutputPerM < 0 {
				return nil, fmt.Errorf("TAGSTREAM_MODEL_PRICES: negative price for %q", name)
			}
			out[name] = p
		}
		return out, nil
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, pair, ok := strings.Cut(item, "=")
		in, outp, ok2 := strings.Cut(pair, "/")
		if !ok || !ok2 || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("TAGSTREAM_MODEL_PRICES: %q is not model=input/output", item)
		}
		pi, err1 := strconv.ParseFloat(strings.TrimSpace(in), 64)
		po, err2 := strconv.ParseFloat(strings.TrimSpace(outp), 64)
		if err1 != nil || err2 != nil || pi < 0 || po < 0 {
			return nil, fmt.Errorf("TAGSTREAM_MODEL_PRICES: %q: prices must be non-negative numbers (dollars per million tokens)", item)
		}
		out[strings.TrimSpace(name)] = Price{InputPerM: pi, OutputPerM: po}
	}
	return out, nil
}

// Cost is what prompt and completion tokens of model cost in dollars, and
// whether the model's price is known (unknown: 0, false).
func (p Prices) Cost(model string, prompt, completion int) (float64, bool) {
	price, ok := p[model]
	if !ok {
		return 0, false
	}
	return (float64(prompt)*price.InputPerM + float64(completion)*price.OutputPerM) / 1e6, true
}
