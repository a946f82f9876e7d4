package llm

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

func TestTagGoodJSON(t *testing.T) {
	f := newFake(t, always(goodTiers))
	res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	// 3 names, 2 subjects, 1 action: the tier proportions of the prompt.
	want := []string{"jal jeevan mission", "ministry of jal shakti", "gram panchayat",
		"water quality", "arsenic contamination", "office memorandum"}
	if !reflect.DeepEqual(res.Tags, want) {
		t.Errorf("tags = %q, want %q", res.Tags, want)
	}
	if res.Calls != 1 || res.Attempts != 1 || res.Model != testModel {
		t.Errorf("calls=%d attempts=%d model=%q", res.Calls, res.Attempts, res.Model)
	}
	if res.PromptTokens != 10 || res.CompletionTokens != 5 || res.TotalTokens != 15 {
		t.Errorf("tokens = %d/%d/%d", res.PromptTokens, res.CompletionTokens, res.TotalTokens)
	}
	r := f.Requests()[0]
	if r.Path != "/v1/chat/completions" || r.Auth != "Bearer "+testKey || r.Model != testModel || !r.JSONMode {
		t.Errorf("request = %+v", r)
	}
	for _, s := range []string{`"names"`, `"subjects"`, `"actions"`, "about 12 tags", "Jal Jeevan Mission", "Title: Water quality circular"} {
		if !strings.Contains(r.UserPrompt, s) {
			t.Errorf("prompt lacks %q", s)
		}
	}
}

func TestTagAnswerShapes(t *testing.T) {
	list := "jal jeevan mission, water quality, arsenic, fluoride, gram panchayat, office memorandum"
	for name, content := range map[string]string{
		"fenced json":     "```json\n" + goodTiers + "\n```",
		"prose around":    "Sure! Here are the tags you asked for:\n" + goodTiers + "\nLet me know if you need more.",
		"json array":      `["jal jeevan mission", "water quality", "arsenic", "fluoride", "gram panchayat", "office memorandum"]`,
		"tags object":     `{"tags": ["jal jeevan mission", "water quality", "arsenic", "fluoride", "gram panchayat", "office memorandum"]}`,
		"comma list":      "Tags: " + list,
		"newline bullets": "Here are the tags:\n1. Jal Jeevan Mission\n2. Water quality\n- Arsenic\n- Fluoride\n* Gram Panchayat\n* Office memorandum",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, always(content))
			res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), baseRequest())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Tags) != 6 || len(f.Requests()) != 1 {
				t.Fatalf("tags = %q after %d requests, want 6 tags after 1", res.Tags, len(f.Requests()))
			}
			if !contains(res.Tags, "jal jeevan mission") || !contains(res.Tags, "water quality") {
				t.Errorf("tags = %q", res.Tags)
			}
		})
	}
}

func TestTagTooFewTagsOneFollowUp(t *testing.T) {
	f := newFake(t, func(n int, r llmfake.Request, w http.ResponseWriter) {
		switch n {
		case 0: // 3 usable tags out of 6: "pdf", "2025" and "document" go
			llmfake.Answer(w, r, `{"names": ["Jal Jeevan Mission", "pdf"], "subjects": ["water quality", "2025"], "actions": ["office memorandum", "document"]}`)
		default:
			llmfake.Answer(w, r, `{"tags": ["water quality", "arsenic", "fluoride", "nitrate", "gram panchayat"]}`)
		}
	})
	res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.Requests()
	if len(reqs) != 2 || res.Calls != 2 {
		t.Fatalf("%d requests (Calls %d), want exactly one follow-up", len(reqs), res.Calls)
	}
	want := []string{"jal jeevan mission", "water quality", "office memorandum", "arsenic", "fluoride", "nitrate"}
	if !reflect.DeepEqual(res.Tags, want) {
		t.Errorf("tags = %q, want %q", res.Tags, want)
	}
	fu := reqs[1].UserPrompt
	if !strings.Contains(fu, "3 more tags") || !strings.Contains(fu, "jal jeevan mission, water quality, office memorandum") {
		t.Errorf("follow-up prompt = %q", fu)
	}
	if reqs[1].Messages != 4 {
		t.Errorf("follow-up has %d messages, want the conversation (4)", reqs[1].Messages)
	}
	if res.TotalTokens != 30 || res.Attempts != 1 {
		t.Errorf("total tokens %d attempts %d", res.TotalTokens, res.Attempts)
	}
}

func TestTagFollowUpStillShortStops(t *testing.T) {
	f := newFake(t, always(`{"tags": ["water quality", "arsenic"]}`))
	res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Requests()) != 2 || len(res.Tags) != 2 {
		t.Errorf("%d requests, tags %q: want 2 requests and the 2 tags the text supports", len(f.Requests()), res.Tags)
	}
}

func TestTagMalformed(t *testing.T) {
	f := newFake(t, always("I am unable to tag this text."))
	res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), baseRequest())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindMalformed {
		t.Fatalf("err = %v, want malformed", err)
	}
	if len(f.Requests()) != 2 || res.Calls != 2 {
		t.Errorf("%d requests, want main + one follow-up", len(f.Requests()))
	}
}

func TestTag429HonoursRetryAfter(t *testing.T) {
	f := newFake(t, func(n int, r llmfake.Request, w http.ResponseWriter) {
		if n == 0 {
			llmfake.Fail(w, http.StatusTooManyRequests, "1", "Rate limit exceeded")
			return
		}
		llmfake.Answer(w, r, goodTiers)
	})
	res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.Requests()
	if len(reqs) != 2 || res.Attempts != 2 || res.Calls != 2 {
		t.Fatalf("%d requests, attempts %d", len(reqs), res.Attempts)
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
		t.Errorf("retry arrived %v after the 429, before Retry-After (1s)", gap)
	}
}

// TestTag429BoundedByDeadline: a 429 is not a document failure, so it does
// not spend MaxAttempts; the document's deadline is what ends the waiting.
func TestTag429BoundedByDeadline(t *testing.T) {
	f := newFake(t, func(_ int, _ llmfake.Request, w http.ResponseWriter) {
		llmfake.Fail(w, http.StatusTooManyRequests, "0", "Rate limit exceeded")
	})
	c := testClient(f.BaseURL(), func(c *Config) { c.MaxAttempts = 3; c.DocTimeout = time.Second; c.MaxBackoff = 100 * time.Millisecond })
	res, err := c.Tag(context.Background(), baseRequest())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRateLimited || e.Status != 429 {
		t.Fatalf("err = %#v, want rate_limited", err)
	}
	if n := len(f.Requests()); n <= 3 || res.Attempts != n {
		t.Errorf("%d requests (%d attempts), want more than MaxAttempts (3) until the deadline", n, res.Attempts)
	}
}

func TestTagAuthFailsAtOnce(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		f := newFake(t, func(_ int, _ llmfake.Request, w http.ResponseWriter) {
			llmfake.Fail(w, status, "", "Incorrect API key provided: "+testKey)
		})
		_, err := testClient(f.BaseURL(), nil).Tag(context.Background(), baseRequest())
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindAuth || e.Status != status {
			t.Fatalf("err = %#v, want auth", err)
		}
		if err.Error() != "invalid API key for model "+testModel {
			t.Errorf("message = %q", err.Error())
		}
		if n := len(f.Requests()); n != 1 {
			t.Errorf("%d requests for HTTP %d, want exactly 1", n, status)
		}
	}
}

func TestTagBadRequest(t *testing.T) {
	msg := "This model's maximum context length is 8192 tokens."
	f := newFake(t, func(_ int, _ llmfake.Request, w http.ResponseWriter) { llmfake.Fail(w, http.StatusBadRequest, "", msg) })
	_, err := testClient(f.BaseURL(), nil).Tag(context.Background(), baseRequest())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindBadRequest || e.Status != 400 || err.Error() != msg {
		t.Fatalf("err = %#v, want bad_request %q", err, msg)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestTag500ThenSuccess(t *testing.T) {
	f := newFake(t, func(n int, r llmfake.Request, w http.ResponseWriter) {
		if n == 0 {
			llmfake.Fail(w, http.StatusBadGateway, "", "upstream error")
			return
		}
		llmfake.Answer(w, r, goodTiers)
	})
	res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Requests()) != 2 || res.Attempts != 2 || len(res.Tags) != 6 {
		t.Errorf("requests %d attempts %d tags %q", len(f.Requests()), res.Attempts, res.Tags)
	}
}

func TestTagHangingTimesOut(t *testing.T) {
	f := newFake(t, func(_ int, r llmfake.Request, _ http.ResponseWriter) {
		// Hold the response until the client gives up.
		<-r.Done
	})
	c := testClient(f.BaseURL(), func(c *Config) { c.DocTimeout = 600 * time.Millisecond })
	_, err := c.Tag(context.Background(), baseRequest())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindTimeout {
		t.Fatalf("err = %#v, want timeout", err)
	}
	// AttemptTimeout (DocTimeout/3) lets the hung attempt be retried.
	if n := len(f.Requests()); n < 2 {
		t.Errorf("%d requests, want the hung attempt retried", n)
	}
}

func TestTagCallerCancel(t *testing.T) {
	f := newFake(t, func(_ int, r llmfake.Request, _ http.ResponseWriter) { <-r.Done })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := testClient(f.BaseURL(), nil).Tag(ctx, baseRequest())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the caller's context.Canceled", err)
	}
}

func TestTagJSONModeRefused(t *testing.T) {
	f := newFake(t, func(_ int, r llmfake.Request, w http.ResponseWriter) {
		if r.JSONMode {
			llmfake.Fail(w, http.StatusBadRequest, "", "response_format is not supported by this model")
			return
		}
		llmfake.Answer(w, r, goodTiers)
	})
	c := testClient(f.BaseURL(), nil)
	res, err := c.Tag(context.Background(), baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.Requests()
	if len(reqs) != 2 || !reqs[0].JSONMode || reqs[1].JSONMode || len(res.Tags) != 6 {
		t.Fatalf("requests %+v tags %q", reqs, res.Tags)
	}
	// The refusal is remembered: the next document goes without JSON mode.
	if _, err := c.Tag(context.Background(), baseRequest()); err != nil {
		t.Fatal(err)
	}
	if reqs = f.Requests(); len(reqs) != 3 || reqs[2].JSONMode {
		t.Errorf("third request jsonMode=%v, want remembered refusal", reqs[len(reqs)-1].JSONMode)
	}
}

func TestTagIgnoresOpenAIEnvironment(t *testing.T) {
	decoy := newFake(t, func(_ int, _ llmfake.Request, w http.ResponseWriter) { llmfake.Fail(w, 500, "", "decoy") })
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("OPENAI_BASE_URL", decoy.BaseURL())
	t.Setenv("OPENAI_API_BASE", decoy.BaseURL())
	t.Setenv("OPENAI_MODEL", "gpt-from-env")
	f := newFake(t, always(goodTiers))
	req := baseRequest()
	req.APIKey = "sk-job-key-42"
	req.Model = "meta-llama/llama-3.1-8b-instruct:free"
	if _, err := testClient(f.BaseURL(), nil).Tag(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := len(decoy.Requests()); n != 0 {
		t.Errorf("OPENAI_BASE_URL server got %d requests", n)
	}
	r := f.Requests()[0]
	if r.Auth != "Bearer sk-job-key-42" || r.Model != req.Model {
		t.Errorf("auth %q model %q, want the request's key and verbatim model", r.Auth, r.Model)
	}
}

func TestErrorsNeverContainKey(t *testing.T) {
	cases := map[string]func(int, llmfake.Request, http.ResponseWriter){
		"401": func(_ int, _ llmfake.Request, w http.ResponseWriter) { llmfake.Fail(w, 401, "", "bad key "+testKey) },
		"400": func(_ int, _ llmfake.Request, w http.ResponseWriter) {
			llmfake.Fail(w, 400, "", "Incorrect API key provided: "+testKey)
		},
		"500": func(_ int, _ llmfake.Request, w http.ResponseWriter) { llmfake.Fail(w, 500, "", "crashed on "+testKey) },
		"429": func(_ int, _ llmfake.Request, w http.ResponseWriter) { llmfake.Fail(w, 429, "", "slow down "+testKey) },
		// Echoes of the key minus one character, truncated, or split
		// around an ellipsis must not survive either.
		"400 minus last": func(_ int, _ llmfake.Request, w http.ResponseWriter) {
			llmfake.Fail(w, 400, "", "Incorrect API key provided: "+testKey[:len(testKey)-1])
		},
		"401 minus first": func(_ int, _ llmfake.Request, w http.ResponseWriter) {
			llmfake.Fail(w, 401, "", "key "+testKey[1:]+" revoked")
		},
		"403 middle": func(_ int, _ llmfake.Request, w http.ResponseWriter) {
			llmfake.Fail(w, 403, "", "key "+testKey[:10]+"..."+testKey[len(testKey)-9:]+" lacks access")
		},
		"bad body": func(_ int, _ llmfake.Request, w http.ResponseWriter) {
			w.WriteHeader(200)
			_, _ = w.Write([]byte("not json " + testKey))
		},
	}
	for name, script := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, script)
			_, err := testClient(f.BaseURL(), func(c *Config) { c.Sleep = noSleep }).Tag(context.Background(), baseRequest())
			if err == nil {
				t.Fatal("want an error")
			}
			if frag := keyFragment(err.Error(), testKey, 8); frag != "" {
				t.Errorf("error leaks %q of the key: %q", frag, err.Error())
			}
		})
	}
	// An unreachable endpoint (a transport error) must not leak it either.
	_, err := testClient("http://127.0.0.1:1/v1", func(c *Config) { c.Sleep = noSleep }).Tag(context.Background(), baseRequest())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnreachable || strings.Contains(err.Error(), testKey) {
		t.Errorf("unreachable: err = %#v", err)
	}
}

func TestTagPacerSharedAfter429(t *testing.T) {
	f := newFake(t, func(n int, r llmfake.Request, w http.ResponseWriter) {
		if n == 0 {
			llmfake.Fail(w, http.StatusTooManyRequests, "2", "Rate limit exceeded")
			return
		}
		llmfake.Answer(w, r, goodTiers)
	})
	inBackoff := make(chan struct{})
	var once sync.Once
	c := testClient(f.BaseURL(), func(cfg *Config) {
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			// The first sleep is A's backoff after its 429, which the
			// pacer has recorded by then.
			once.Do(func() { close(inBackoff) })
			return sleepCtx(ctx, d)
		}
	})
	req := baseRequest()
	req.PaceKey = "batch-1"
	errs := make(chan error, 2)
	go func() { _, err := c.Tag(context.Background(), req); errs <- err }()
	<-inBackoff
	// B has a different API key: only the job's pacer can hold it back.
	reqB := req
	reqB.APIKey = "sk-other-key-for-b"
	startB := time.Now()
	go func() { _, err := c.Tag(context.Background(), reqB); errs <- err }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	reqs := f.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (one 429, two successes)", len(reqs))
	}
	// B starts right after A's backoff begins; Retry-After is 2 s so that
	// only a stall of seconds could start it after the deadline, and then
	// the test would prove nothing: that fails rather than passes.
	deadline := reqs[0].At.Add(2 * time.Second)
	if !startB.Before(deadline) {
		t.Fatalf("B started %v after the 429, past its Retry-After: nothing proved", startB.Sub(reqs[0].At))
	}
	for _, r := range reqs[1:] {
		if r.At.Before(deadline) {
			t.Errorf("request (auth %s) arrived %v after the 429, before Retry-After", r.Auth, r.At.Sub(reqs[0].At))
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// keyFragment returns the first substring of key of at least n bytes found
// in s, or "".
func keyFragment(s, key string, n int) string {
	for i := 0; i+n <= len(key); i++ {
		if strings.Contains(s, key[i:i+n]) {
			return key[i : i+n]
		}
	}
	return ""
}

func TestRedactFragments(t *testing.T) {
	const key = "sk-proj-AbCdEfGh0123456789"
	for _, tc := range []struct{ in, want string }{
		{"bad key " + key, "bad key [redacted]"},
		{"bad key " + key[:len(key)-1] + ".", "bad key [redacted]."},
		{"bad key " + key[1:], "bad key [redacted]"},
		{"key " + key[:8] + "..." + key[len(key)-8:], "key [redacted]...[redacted]"},
		{"short " + key[:7] + " stays", "short " + key[:7] + " stays"},
		{"nothing here", "nothing here"},
	} {
		if got := redact(tc.in, key); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := redact("a abcd b", "abcd"); got != "a [redacted] b" {
		t.Errorf("short key: %q", got)
	}
	// Its base64 and hex forms, as a provider echoing the header shows them.
	for _, form := range []string{base64.StdEncoding.EncodeToString([]byte(key)), base64.RawURLEncoding.EncodeToString([]byte(key)), hex.EncodeToString([]byte(key))} {
		if got := redact("got b64="+form+" end", key); strings.Contains(got, form[4:12]) || !strings.HasPrefix(got, "got b64=") {
			t.Errorf("encoded key %q: %q", form, got)
		}
	}
}
