package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

// cacheJob runs a job over the given corpus files and waits for it.
func cacheJob(t *testing.T, e *env, u user, docsURL string, files []string, extra map[string]any) (string, map[string]any) {
	t.Helper()
	docs := make([]any, len(files))
	for i, f := range files {
		docs[i] = map[string]any{"file_path": docsURL + "/" + f}
	}
	cfg := map[string]any{"api_key": "sk-test", "model_name": "openai/gpt-4o-mini", "ocr": "off", "num_tags": 6}
	for k, v := range extra {
		cfg[k] = v
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs, "config": cfg}, 200)["job_id"].(string)
	return job, e.waitStatus(u, job, 60*time.Second, "completed")
}

func taggedEvents(t *testing.T, e *env, job string) []events.DocumentTagged {
	var out []events.DocumentTagged
	for _, env := range e.history(job) {
		if env.Type == events.TypeDocumentTagged {
			var ev events.DocumentTagged
			if err := json.Unmarshal(env.Data, &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
	}
	return out
}

// Re-running an unchanged job makes no model call: every document is
// tagged from the cache, with cached_from naming the original event.
// Another owner gets no hit, nor does a job with cache false or other
// settings.
func TestContentCache(t *testing.T) {
	docsSrv := corpusServer(t)
	fake := llmfake.New(t, llmfake.Options{})
	e := pipelineEnv(t, fake.BaseURL())
	alice, bob := e.register("alice@example.com"), e.register("bob@example.com")
	files := []string{"circular-water.pdf", "tender-notice.pdf", "circular-hindi.pdf"}

	first, st := cacheJob(t, e, alice, docsSrv.URL, files, nil)
	calls := fake.Calls()
	if calls < int64(len(files)) || st["usage"].(map[string]any)["cached"].(float64) != 0 {
		t.Fatalf("first run: %d calls, status %v", calls, st)
	}
	origin := map[string]uint64{} // content digest -> seq of its DocumentTagged
	for _, env := range e.history(first) {
		if env.Type == events.TypeDocumentTagged {
			var ev events.DocumentTagged
			_ = json.Unmarshal(env.Data, &ev)
			if ev.Metadata.ContentSHA256 == "" {
				t.Fatalf("no content digest: %+v", ev.Metadata)
			}
			origin[ev.Metadata.ContentSHA256] = env.Seq
		}
	}

	second, st := cacheJob(t, e, alice, docsSrv.URL, files, nil)
	if n := fake.Calls(); n != calls {
		t.Fatalf("re-run made %d model calls, want 0", n-calls)
	}
	u := st["usage"].(map[string]any)
	if u["cached"].(float64) != float64(len(files)) || u["model_calls"].(float64) != 0 || u["cost_usd"].(float64) != 0 {
		t.Fatalf("re-run usage %v", u)
	}
	for _, ev := range taggedEvents(t, e, second) {
		if ev.Metadata.CachedFrom == 0 || ev.Metadata.CachedFrom != origin[ev.Metadata.ContentSHA256] || len(ev.Tags) != 6 || ev.Metadata.Calls != 0 {
			t.Fatalf("cached event %+v, want cached_from %d", ev, origin[ev.Metadata.ContentSHA256])
		}
	}

	// Another owner, cache off, another setting: the model is asked.
	for _, run := range []struct {
		name  string
		who   user
		extra map[string]any
	}{{"another owner", bob, nil}, {"cache false", alice, map[string]any{"cache": false}}, {"num_tags 7", alice, map[string]any{"num_tags": 7}}} {
		before := fake.Calls()
		job, st := cacheJob(t, e, run.who, docsSrv.URL, files, run.extra)
		if fake.Calls()-before < int64(len(files)) || st["usage"].(map[string]any)["cached"].(float64) != 0 {
			t.Fatalf("%s: %d calls, usage %v", run.name, fake.Calls()-before, st["usage"])
		}
		for _, ev := range taggedEvents(t, e, job) {
			if ev.Metadata.CachedFrom != 0 {
				t.Fatalf("%s: cache hit %+v", run.name, ev.Metadata)
			}
		}
	}
}
