package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

// TestPlantedSecretsStayOutOfTheLog plants secrets where a careless path
// would copy them into the permanent record: the server's and a job's API
// key (echoed minus one character by the provider in its errors), a
// .env-like text file under the local root, and a private HTTP server
// answering text. Then it reads every message of every JetStream stream
// (events, tasks, KV buckets), the process log, the job status, events,
// results JSON and CSV, and finds none of them.
func TestPlantedSecretsStayOutOfTheLog(t *testing.T) {
	const (
		serverKey = "sk-srv-Qz7Wm2Xk9Lp4Vn8Rt3Yb6Hc1"
		jobKey    = "sk-job-Ja5Nd0Fs8Gu3Kw7Eo2Mx4Pi9"
		envSecret = "hunter2-Zq8Tv1Bn6Cy3Wd"
		webSecret = "intratok-Lk2Rf9Sj4Uh7Xa"
	)
	// The provider refuses both keys and echoes each minus its last
	// character: 400 (the document fails) for the job's key, 401 (the job
	// fails) for the server's.
	provider := llmfake.New(t, llmfake.Options{Script: func(_ int, r llmfake.Request, w http.ResponseWriter) {
		key := strings.TrimPrefix(r.Auth, "Bearer ")
		status := http.StatusBadRequest
		if key == serverKey {
			status = http.StatusUnauthorized
		}
		llmfake.Fail(w, status, "", "Incorrect API key provided: "+key[:len(key)-1]+". You can find your key at https://example.invalid")
	}})
	intranet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "internal admin token: %s\nDB_HOST=10.0.0.5\n", webSecret)
	}))
	t.Cleanup(intranet.Close)

	cfg := testConfig(t)
	cfg.LLMBaseURL, cfg.LLMAPIKey = provider.BaseURL(), serverKey
	cfg.AllowPrivate = true
	cfg.LocalRoot = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.LocalRoot, "good.pdf"), tinyPDF(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.LocalRoot, "settings.pdf"),
		[]byte("DB_PASSWORD="+envSecret+"\nOPENAI_API_KEY="+envSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	e := startEnvLogged(t, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	u := e.register("alice@example.com")

	docs := []any{
		map[string]any{"file_path": "good.pdf", "title": "reaches the provider"},
		map[string]any{"file_path": "settings.pdf", "title": "a .env file"},
		map[string]any{"file_path": intranet.URL + "/config", "title": "an internal page"},
	}
	jobWithKey := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"api_key": jobKey, "model_name": "openai/gpt-4o-mini", "num_tags": 5}}, 200)["job_id"].(string)
	jobServerKey := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs[:1],
		"config": map[string]any{"model_name": "openai/gpt-4o-mini", "num_tags": 5}}, 200)["job_id"].(string)
	e.waitStatus(u, jobWithKey, 60*time.Second, "completed", "failed")
	e.waitStatus(u, jobServerKey, 60*time.Second, "completed", "failed")

	var seen []string // what was scanned, to prove the scan saw the failures
	scan := func(where, text string) {
		t.Helper()
		seen = append(seen, text)
		for _, s := range []string{serverKey, jobKey, envSecret, webSecret} {
			if frag := secretFragment(text, s); frag != "" {
				t.Errorf("%s contains %q (from planted secret %q)", where, frag, s)
			}
		}
	}
	for _, job := range []string{jobWithKey, jobServerKey} {
		for _, path := range []string{"/status", "/events?limit=1000", "/results?limit=1000", "/results?format=csv"} {
			resp, err := http.DefaultClient.Do(authed(t, e.url+"/api/batch/jobs/"+job+path, u.token))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s%s: %d %s", job, path, resp.StatusCode, body)
			}
			scan(job+path, string(body))
		}
	}
	scanStreams(t, e.app.conn.JS, scan)
	scan("the process log", logs.String())

	// The failures were recorded, by type, not by content.
	all := strings.Join(seen, "\n")
	for _, want := range []string{"plain text", "[redacted]"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q anywhere: the scan did not see the failures it is about", want)
		}
	}
}

// secretFragment returns the first run of 8 or more characters of secret
// found in text (a leak minus a character or two is still a leak).
func secretFragment(text, secret string) string {
	const n = 8
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+n]) {
			return secret[i : i+n]
		}
	}
	return ""
}

// scanStreams reads every message of every stream (the event log, the
// task queue, and the KV buckets: users, sessions, job secrets).
func scanStreams(t *testing.T, js jetstream.JetStream, scan func(where, text string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	streams := 0
	for info := range js.ListStreams(ctx).Info() {
		streams++
		s, err := js.Stream(ctx, info.Config.Name)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue // deleted or expired
			}
			scan(fmt.Sprintf("stream %s seq %d (%s)", info.Config.Name, seq, m.Subject), fmt.Sprint(m.Header)+string(m.Data))
		}
	}
	if streams < 2 {
		t.Fatalf("scanned %d streams; expected the event log and the buckets", streams)
	}
}

func authed(t *testing.T, url, token string) *http.Request {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// startEnvLogged is startEnv with the production tagger and the process
// log kept for inspection.
func startEnvLogged(t *testing.T, cfg config, log *slog.Logger) *env {
	t.Helper()
	return startEnvWithLog(t, cfg, newTagger(cfg, log), log)
}
