package llm

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

// recorder is an Observer that keeps what it heard.
type recorder struct {
	mu       sync.Mutex
	calls    []string // outcomes
	prompt   int
	complete int
	waits    []time.Duration
}

func (r *recorder) ModelCall(model, outcome string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, model+" "+outcome)
}

func (r *recorder) ModelTokens(_ string, p, c int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prompt += p
	r.complete += c
}

func (r *recorder) RateLimitWait(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
}

// A 429 with Retry-After, then an answer: two calls with their outcomes,
// the tokens of the answer, and the Retry-After reported as a wait.
func TestObserverSeesCallsTokensAndRateLimitWaits(t *testing.T) {
	f := newFake(t, func(n int, r llmfake.Request, w http.ResponseWriter) {
		if n == 0 {
			llmfake.Fail(w, http.StatusTooManyRequests, "2", "Rate limit exceeded")
			return
		}
		llmfake.Answer(w, r, goodTiers)
	})
	rec := &recorder{}
	c := testClient(f.BaseURL(), func(c *Config) { c.Sleep = noSleep; c.Observer = rec })
	if _, err := c.Tag(context.Background(), baseRequest()); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []string{testModel + " rate_limited", testModel + " ok"}
	if len(rec.calls) != 2 || rec.calls[0] != want[0] || rec.calls[1] != want[1] {
		t.Errorf("calls = %v, want %v", rec.calls, want)
	}
	if rec.prompt != 10 || rec.complete != 5 {
		t.Errorf("tokens = %d/%d, want 10/5", rec.prompt, rec.complete)
	}
	var total time.Duration
	for _, w := range rec.waits {
		total += w
	}
	if len(rec.waits) == 0 || total < 2*time.Second {
		t.Errorf("rate-limit waits %v, want at least the 2s Retry-After", rec.waits)
	}
}
