package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStartRateLimitPerUser floods start from one account over real HTTP:
// after the burst the server answers 429 rate_limited with Retry-After,
// other users and the separate validate-paths bucket are unaffected, and
// waiting Retry-After lets the flooder in again.
func TestStartRateLimitPerUser(t *testing.T) {
	cfg := testConfig(t)
	cfg.StartRate = 60 // the default: 1 per second, bursts of 10
	e := startEnv(t, cfg, &fakeTagger{})
	flooder, bystander := e.register("flood@example.com"), e.register("honest@example.com")
	// One request each: a retry here would spend a token of its own.
	start := func(u user) (int, map[string]any, string) {
		req, _ := http.NewRequest("POST", e.url+"/api/batch/start",
			strings.NewReader(`{"documents":[{"file_path":"a.pdf"}],"config":{"model_name":"builtin/keywords"}}`))
		req.Header.Set("Authorization", "Bearer "+u.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body, resp.Header.Get("Retry-After")
	}

	began := time.Now()
	accepted, limited := 0, false
	var retryAfter string
	for range 30 {
		st, body, ra := start(flooder)
		if st == http.StatusOK {
			accepted++
			continue
		}
		if st != http.StatusTooManyRequests || body["code"] != "rate_limited" ||
			!strings.Contains(body["detail"].(string), "per minute") {
			t.Fatalf("flood: %d %v", st, body)
		}
		limited, retryAfter = true, ra
		break
	}
	// At 1 token per second, at most one more than the burst per second elapsed.
	if elapsed := time.Since(began).Seconds(); !limited || accepted < 10 || float64(accepted) > 10+elapsed+1 {
		t.Fatalf("limited=%v after %d accepted starts in %.1fs; want 429 after the burst of 10", limited, accepted, elapsed)
	}
	if n, err := strconv.Atoi(retryAfter); err != nil || n < 1 || n > 2 {
		t.Fatalf("Retry-After %q, want 1 or 2 seconds", retryAfter)
	}
	// The flood costs nobody else anything.
	e.mustCall("POST", "/api/batch/start", bystander.token, startBody(nil), http.StatusOK)
	e.mustCall("POST", "/api/batch/validate-paths", flooder.token,
		map[string]any{"documents": []any{map[string]any{"file_path": "a.pdf"}}}, http.StatusOK)
	// Honouring Retry-After works.
	n, _ := strconv.Atoi(retryAfter)
	time.Sleep(time.Duration(n) * time.Second)
	e.mustCall("POST", "/api/batch/start", flooder.token, startBody(nil), http.StatusOK)
}
