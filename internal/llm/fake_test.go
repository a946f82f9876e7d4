package llm

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

// testUsage is what the fake provider reports per call in this package's
// tests (and what a limited fake charges its tokens bucket).
var testUsage = llmfake.Usage{Prompt: 10, Completion: 5}

// newFake starts the fake provider with script answering the n-th
// request (0-based).
func newFake(t *testing.T, script func(n int, r llmfake.Request, w http.ResponseWriter)) *llmfake.Server {
	t.Helper()
	return llmfake.New(t, llmfake.Options{Usage: testUsage, Script: script})
}

// always answers every request with the same content.
func always(content string) func(int, llmfake.Request, http.ResponseWriter) {
	return func(_ int, r llmfake.Request, w http.ResponseWriter) { llmfake.Answer(w, r, content) }
}

const (
	testKey   = "sk-test-0123456789abcdef"
	testModel = "openai/gpt-4o-mini"
	waterText = `Ministry of Jal Shakti. Subject: Guidelines for water quality monitoring under the Jal Jeevan Mission.`
)

// goodTiers has 6 names, 4 subjects and 2 actions: enough for NumTags 6.
const goodTiers = llmfake.EnglishTiers

// testClient returns a client whose waits are short, so that the tests
// exercise the real timing logic in well under a second per retry.
func testClient(base string, mod func(*Config)) *Client {
	cfg := Config{BaseURL: base, DocTimeout: 10 * time.Second, MaxAttempts: 4, MaxBackoff: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c := New(cfg)
	c.baseBackoff = 20 * time.Millisecond
	c.paceFloor = 50 * time.Millisecond
	return c
}

func baseRequest() Request {
	return Request{Model: testModel, APIKey: testKey, Text: waterText, Title: "Water quality circular", NumTags: 6}
}

// noSleep is a Sleep hook for tests that only count attempts.
func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }
