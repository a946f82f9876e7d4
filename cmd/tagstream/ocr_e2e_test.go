package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/testenv"
)

// TestScansAndHindiEndToEnd: with the production pipeline, real Tesseract
// and the fake model, scanned circulars are OCR'd (metadata
// extraction_method "ocr" with ocr_confidence) and a Hindi circular gets
// English tags by default and Devanagari tags with tag_language original.
func TestScansAndHindiEndToEnd(t *testing.T) {
	testenv.RequireTool(t, "tesseract")
	testenv.RequireTool(t, "pdftoppm")
	docsSrv := corpusServer(t)
	llm := llmfake.New(t, llmfake.Options{Key: "sk-e2e-test"})
	cfg := testConfig(t)
	cfg.AllowPrivate = true
	cfg.LLMBaseURL = llm.BaseURL()
	// OCR takes seconds a page, many more on a loaded machine; the
	// harness's 30 s would fail documents that production's 5 min allows.
	cfg.DocTimeout = 5 * time.Minute
	e := startEnv(t, cfg, newTagger(cfg, testLogger()))
	u := e.register("alice@example.com")
	files := []string{"circular-water-scan-200dpi.pdf", "circular-hindi-scan-200dpi.pdf", "circular-hindi.pdf"}
	run := func(tagLanguage string) map[string]map[string]any {
		docs := make([]any, len(files))
		for i, f := range files {
			docs[i] = map[string]any{"file_path": docsSrv.URL + "/" + f, "title": f}
		}
		cfg := map[string]any{"api_key": "sk-e2e-test", "model_name": "openai/gpt-4o-mini", "num_tags": 6, "num_pages": 2}
		if tagLanguage != "" {
			cfg["tag_language"] = tagLanguage
		}
		job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs, "config": cfg}, 200)["job_id"].(string)
		e.waitStatus(u, job, 120*time.Second, "completed")
		rows := e.mustCall("GET", "/api/batch/jobs/"+job+"/results", u.token, nil, 200)["results"].([]any)
		by := map[string]map[string]any{}
		for _, r := range rows {
			by[r.(map[string]any)["title"].(string)] = r.(map[string]any)
		}
		return by
	}
	devanagari := func(s string) bool {
		return strings.ContainsFunc(s, func(r rune) bool { return r >= 0x0900 && r <= 0x097F })
	}
	en := run("")
	for _, f := range files {
		r := en[f]
		md, _ := r["metadata"].(map[string]any)
		if r["status"] != "success" || md == nil {
			t.Fatalf("%s: %v", f, r)
		}
		wantMethod := "ocr"
		if f == "circular-hindi.pdf" {
			wantMethod = "text"
		}
		conf, _ := md["ocr_confidence"].(float64)
		if md["extraction_method"] != wantMethod || (wantMethod == "ocr") != (conf >= 60) {
			t.Errorf("%s metadata: %v", f, md)
		}
		for _, tag := range r["tags"].([]any) {
			if devanagari(tag.(string)) {
				t.Errorf("%s: tag %q is not English", f, tag)
			}
		}
	}
	orig := run("original")
	for _, f := range files[1:] {
		tags := orig[f]["tags"].([]any)
		if orig[f]["status"] != "success" || len(tags) == 0 || !devanagari(tags[0].(string)) {
			t.Errorf("%s with tag_language original: %v", f, orig[f])
		}
	}
}
