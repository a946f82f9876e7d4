package llmfake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// post sends one chat completion with prompt as the user message.
func post(t *testing.T, s *Server, key, prompt string) (*http.Response, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": "m", "messages": []any{
		map[string]any{"role": "system", "content": "You tag documents."},
		map[string]any{"role": "user", "content": prompt},
	}})
	req, _ := http.NewRequest("POST", s.BaseURL()+"/chat/completions", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

// content is the assistant message of a completion.
func content(t *testing.T, raw string) string {
	t.Helper()
	var out struct {
		Choices []struct{ Message struct{ Content string } }
		Usage   struct {
			TotalTokens int `json:"total_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil || len(out.Choices) != 1 || out.Usage.TotalTokens != DefaultUsage.Total() {
		t.Fatalf("completion %s (%v)", raw, err)
	}
	return out.Choices[0].Message.Content
}

func TestAnswersInTheDocumentsLanguageAndWrapsEveryThird(t *testing.T) {
	s := New(t, Options{})
	prompts := []string{
		"Tag it.\nDocument text:\nWater quality circular",
		"Write every tag in English.\nDocument text:\nमध्याह्न भोजन योजना",
		"Keep the document's script.\nDocument text:\nमध्याह्न भोजन योजना",
		"Tag it.\nDocument text:\nWater quality circular",
		"Tag it.\nDocument text:\nWater quality circular",
		"Tag it.\nDocument text:\nWater quality circular",
	}
	want := []string{EnglishTiers, HindiTiersEnglish, HindiTiers, EnglishTiers, EnglishTiers, EnglishTiers}
	for i, p := range prompts {
		resp, raw := post(t, s, "k", p)
		got := content(t, raw)
		bare := (i+1)%3 != 0
		if resp.StatusCode != 200 || !strings.Contains(got, want[i]) || (got == want[i]) != bare {
			t.Fatalf("call %d: %d %q, want %q bare=%v", i, resp.StatusCode, got, want[i], bare)
		}
	}
}

func TestWrongKeyAndScripted429(t *testing.T) {
	s := New(t, Options{Key: "right", WrapEvery: -1, Status: func(r Request) (int, string) {
		if r.N == 1 {
			return http.StatusTooManyRequests, "2"
		}
		return 0, ""
	}})
	if resp, _ := post(t, s, "wrong", "x"); resp.StatusCode != 401 || s.BadKeys() != 1 {
		t.Fatalf("wrong key: %d, %d bad keys", resp.StatusCode, s.BadKeys())
	}
	resp, _ := post(t, s, "right", "x")
	h := resp.Header
	if resp.StatusCode != 429 || h.Get("Retry-After") != "2" || h.Get("X-Ratelimit-Remaining-Requests") != "0" ||
		h.Get("X-Ratelimit-Reset-Requests") != "2s" || h.Get("X-Ratelimit-Limit-Requests") == "" || h.Get("X-Ratelimit-Limit-Tokens") == "" {
		t.Fatalf("scripted 429: %d %v", resp.StatusCode, h)
	}
	if resp, raw := post(t, s, "right", "x"); resp.StatusCode != 200 || content(t, raw) != EnglishTiers || s.Calls() != 3 {
		t.Fatalf("after the 429: %d %s, %d calls", resp.StatusCode, raw, s.Calls())
	}
}

func TestLimitsPerKey(t *testing.T) {
	s := New(t, Options{WrapEvery: -1, Limits: &Limits{ReqPerSec: 0.001, ReqBurst: 2}})
	for i, want := range []int{200, 200, 429} {
		resp, _ := post(t, s, "a", "x")
		if resp.StatusCode != want || resp.Header.Get("X-Ratelimit-Limit-Requests") != "2" {
			t.Fatalf("call %d: %d %v, want %d", i, resp.StatusCode, resp.Header, want)
		}
		if want == 429 && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if resp, _ := post(t, s, "b", "x"); resp.StatusCode != 200 {
		t.Fatalf("another key: %d, want its own bucket", resp.StatusCode)
	}
	if st := s.Stats(); st.Calls != 4 || st.OK != 3 || st.Limited != 1 {
		t.Fatalf("stats %+v", st)
	}
}
