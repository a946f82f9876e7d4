package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/testenv"
)

// corpusServer serves ../shared/corpus over HTTP on loopback.
func corpusServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(testenv.Corpus(t))))
	t.Cleanup(srv.Close)
	return srv
}

// pipelineEnv runs serve with the production tagging pipeline.
func pipelineEnv(t *testing.T, llmURL string) *env {
	cfg := testConfig(t)
	cfg.AllowPrivate = true // the corpus and the fake model are on loopback
	cfg.LLMBaseURL = llmURL
	return startEnv(t, cfg, newTagger(cfg, testLogger()))
}

func TestEndToEndOverRealPDFsWithFakeLLM(t *testing.T) {
	docsSrv := corpusServer(t)
	llm := llmfake.New(t, llmfake.Options{Latency: 5 * time.Millisecond, Key: "sk-e2e-test"})
	e := pipelineEnv(t, llm.BaseURL())
	u := e.register("alice@example.com")
	files := []string{
		"circular-water.pdf", "tender-notice.pdf", "circular-hindi.pdf", "circular-water-aes256.pdf",
		"circular-water-scanned.pdf", "groff-report-password.pdf", "not-a-pdf.pdf", "empty.pdf",
		"tender-notice-truncated.pdf", "missing.pdf",
	}
	docs := make([]any, len(files))
	for i, f := range files {
		docs[i] = map[string]any{"url": docsSrv.URL + "/" + f, "name": f}
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{
		"documents":      docs,
		"column_mapping": map[string]any{"url": "file_path", "name": "title"},
		// ocr off: this test is about the text layer; OCR has its own test.
		"config": map[string]any{"api_key": "sk-e2e-test", "model_name": "openai/gpt-4o-mini", "num_tags": 6, "num_pages": 2, "ocr": "off"},
	}, 200)["job_id"].(string)
	st := e.waitStatus(u, job, 60*time.Second, "completed")
	rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, 200)["results"].([]any)
	byTitle := map[string]map[string]any{}
	for _, r := range rows {
		byTitle[r.(map[string]any)["title"].(string)] = r.(map[string]any)
	}
	for _, f := range files[:4] {
		r := byTitle[f]
		md, _ := r["metadata"].(map[string]any)
		if r["status"] != "success" || len(r["tags"].([]any)) != 6 || md == nil {
			t.Fatalf("%s: %v", f, r)
		}
		if md["extraction_method"] != "text" || md["pages_read"].(float64) < 1 || md["page_count"].(float64) < 1 ||
			md["text_length"].(float64) < 50 || md["model"] != "openai/gpt-4o-mini" || md["total_tokens"].(float64) < 1 {
			t.Errorf("%s metadata: %v", f, md)
		}
	}
	wantErr := map[string]struct{ code, text string }{
		"circular-water-scanned.pdf":  {"scanned", "OCR needed"},
		"groff-report-password.pdf":   {"extract", "password protected"},
		"not-a-pdf.pdf":               {"fetch_not_pdf", ""},
		"empty.pdf":                   {"fetch_not_pdf", ""},
		"tender-notice-truncated.pdf": {"extract", "damaged"},
		"missing.pdf":                 {"fetch_not_found", ""},
	}
	for f, w := range wantErr {
		r := byTitle[f]
		errText, _ := r["error"].(string)
		if r["status"] != "failed" || r["error_code"] != w.code || !strings.Contains(errText, w.text) || errText == "" {
			t.Errorf("%s: status %v code %v error %q, want code %s mentioning %q", f, r["status"], r["error_code"], errText, w.code, w.text)
		}
	}
	if st["processed_count"].(float64) != 4 || st["failed_count"].(float64) != 6 {
		t.Fatalf("status: %v", st)
	}
}

func TestInvalidKeyFailsTheJobAtOnce(t *testing.T) {
	docsSrv := corpusServer(t)
	llm := llmfake.New(t, llmfake.Options{Key: "sk-the-right-key"})
	e := pipelineEnv(t, llm.BaseURL())
	u := e.register("alice@example.com")
	docs := make([]any, 40)
	for i := range docs {
		docs[i] = map[string]any{"file_path": docsSrv.URL + "/circular-water.pdf"}
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"api_key": "sk-a-wrong-key", "model_name": "openai/gpt-4o-mini"}}, 200)["job_id"].(string)
	st := e.waitStatus(u, job, 30*time.Second, "failed")
	if reason, _ := st["reason"].(string); reason != "invalid API key for model openai/gpt-4o-mini" {
		t.Fatalf("reason %q", st["reason"])
	}
	if calls := llm.Calls(); calls > 8 {
		t.Fatalf("%d model calls for an invalid key: the job kept burning documents", calls)
	}
	if st["failed_count"].(float64) != 40 || st["progress"].(float64) != 1 {
		t.Fatalf("status: %v", st)
	}
	// The owner retries with the right key: every document succeeds.
	e.mustCall("POST", "/api/batch/jobs/"+job+"/retry", u.token, map[string]any{"api_key": "sk-the-right-key"}, 200)
	st = e.waitStatus(u, job, 60*time.Second, "completed")
	if st["processed_count"].(float64) != 40 {
		t.Fatalf("after retry: %v", st)
	}
}

func TestKeywordsModelTagsTheWaterCircularOffline(t *testing.T) {
	docsSrv := corpusServer(t)
	e := pipelineEnv(t, "http://127.0.0.1:1/v1") // nothing listens: the model must not be called
	u := e.register("alice@example.com")
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{
		"documents": []any{map[string]any{"file_path": docsSrv.URL + "/circular-water.pdf"}},
		"config":    map[string]any{"model_name": "builtin/keywords", "num_tags": 8, "exclusion_words": "ministry of jal shakti"},
	}, 200)["job_id"].(string)
	e.waitStatus(u, job, 30*time.Second, "completed")
	r := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, 200)["results"].([]any)[0].(map[string]any)
	var tags []string
	for _, tag := range r["tags"].([]any) {
		tags = append(tags, tag.(string))
	}
	joined := "|" + strings.Join(tags, "|") + "|"
	if !strings.Contains(joined, "|jal jeevan mission|") && !strings.Contains(joined, "water quality") {
		t.Fatalf("keyword tags for the water circular: %v", tags)
	}
	if strings.Contains(joined, "|ministry of jal shakti|") {
		t.Fatalf("excluded phrase kept: %v", tags)
	}
}
