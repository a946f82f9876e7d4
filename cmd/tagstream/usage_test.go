package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/pdftext"
)

// Every DocumentTagged records the model, the prompt and extractor
// versions, the tokens and the cost from the price table; the job's
// status sums them, and `batch status` shows calls, tokens and cost.
func TestUsageRecordedAndShown(t *testing.T) {
	docsSrv := corpusServer(t)
	fake := llmfake.New(t, llmfake.Options{})
	cfg := testConfig(t)
	cfg.AllowPrivate = true
	cfg.LLMBaseURL = fake.BaseURL()
	cfg.ModelPrices = "openai/gpt-4o-mini=1000/2000" // the fake answers 120 prompt + 40 completion tokens: $0.2 a call
	e := startEnv(t, cfg, newTagger(cfg, testLogger()))
	u := e.register("alice@example.com")
	docs := make([]any, 3)
	for i := range docs {
		docs[i] = map[string]any{"file_path": docsSrv.URL + "/circular-water.pdf"}
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"api_key": "sk-test", "model_name": "openai/gpt-4o-mini", "ocr": "off", "cache": false}}, 200)["job_id"].(string)
	st := e.waitStatus(u, job, 60*time.Second, "completed")

	var calls int
	var cost float64
	for _, env := range e.history(job) {
		if env.Type != events.TypeDocumentTagged {
			continue
		}
		var ev events.DocumentTagged
		if err := json.Unmarshal(env.Data, &ev); err != nil {
			t.Fatal(err)
		}
		md := ev.Metadata
		want := 0.2 * float64(md.Calls)
		if md.Model != "openai/gpt-4o-mini" || md.PromptVersion != llm.PromptVersion || md.ExtractorVersion != pdftext.ExtractorVersion ||
			md.Calls < 1 || md.PromptTokens != 120*md.Calls || md.CompletionTokens != 40*md.Calls ||
			math.Abs(md.CostUSD-want) > 1e-9 || md.CostKnown == nil || !*md.CostKnown {
			t.Fatalf("metadata %+v (cost_known %v), want cost %v", md, md.CostKnown, want)
		}
		calls += md.Calls
		cost += md.CostUSD
	}
	usage, _ := st["usage"].(map[string]any)
	if usage == nil || usage["model_calls"].(float64) != float64(calls) || usage["model_calls"].(float64) != float64(fake.Calls()) ||
		usage["prompt_tokens"].(float64) != float64(120*calls) || usage["completion_tokens"].(float64) != float64(40*calls) ||
		math.Abs(usage["cost_usd"].(float64)-cost) > 1e-9 || usage["cached"].(float64) != 0 {
		t.Fatalf("status usage %v; events: %d calls, $%v; fake saw %d calls", usage, calls, cost, fake.Calls())
	}

	clientEnv(t)
	login(t, e.url, "alice@example.com")
	out := ok(t, "batch", "status", job).stdout
	for _, want := range []string{"Model calls:", "Tokens:", "Cost:", "cache hits", fmt.Sprintf("$%.4f", cost)} {
		if !strings.Contains(out, want) {
			t.Fatalf("batch status lacks %q:\n%s", want, out)
		}
	}
}
