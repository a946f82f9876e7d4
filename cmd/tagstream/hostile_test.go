package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Hostile input against the real server (embedded JetStream, real HTTP):
// every malformed or abusive request gets its exact 4xx status, its code
// and a detail naming what is wrong (field and row where there is one),
// never a 500, and none of them leaves a job behind.

// hostileCase is one abusive request and the answer it must get.
type hostileCase struct {
	name, method, path string
	body               any // string/[]byte sent raw, anything else as JSON
	status             int
	code               string
	detail             []string // each must appear in the detail
}

// startBody is a valid start request changed by mut.
func startBody(mut func(m map[string]any)) map[string]any {
	m := map[string]any{
		"documents": []any{map[string]any{"file_path": "a.pdf"}},
		"config":    map[string]any{"model_name": "builtin/keywords"},
	}
	if mut != nil {
		mut(m)
	}
	return m
}

func withDocs(docs ...any) map[string]any {
	return startBody(func(m map[string]any) { m["documents"] = docs })
}

func withConfig(kv ...any) map[string]any {
	cfg := map[string]any{"model_name": "builtin/keywords"}
	for i := 0; i < len(kv); i += 2 {
		cfg[kv[i].(string)] = kv[i+1]
	}
	return startBody(func(m map[string]any) { m["config"] = cfg })
}

func withTop(k string, v any) map[string]any {
	return startBody(func(m map[string]any) { m[k] = v })
}

// rawStart is a start body written by hand, for what json.Marshal cannot
// produce (invalid UTF-8, raw control bytes, syntax errors).
func rawStart(docsJSON string) string {
	return `{"documents":` + docsJSON + `,"config":{"model_name":"builtin/keywords"}}`
}

// manyDocs is a body with n documents; withConfig adds a valid config.
func manyDocs(n int, withConfig bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"documents":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"file_path":"d%d.pdf"}`, i)
	}
	b.WriteString("]")
	if withConfig {
		b.WriteString(`,"config":{"model_name":"builtin/keywords"}`)
	}
	b.WriteString("}")
	return b.Bytes()
}

func hostileCases() []hostileCase {
	const start, validate = "/api/batch/start", "/api/batch/validate-paths"
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	bad := func(name string, body any, detail ...string) hostileCase {
		return hostileCase{name, "POST", start, body, 400, "invalid", detail}
	}
	notFound := func(name, method, path string) hostileCase {
		return hostileCase{name, method, path, nil, 404, "not_found", []string{"not found"}}
	}
	return []hostileCase{
		// Not JSON, or not one JSON object.
		bad("truncated JSON", `{"documents": [`, "malformed JSON"),
		bad("trailing garbage", rawStart(`[{"file_path":"a.pdf"}]`)+` {}`, "single JSON object"),
		bad("empty body", ``, "empty"),
		bad("array body", `[]`, "JSON object"),
		bad("string body", `"start please"`, "JSON object"),
		bad("null body", `null`, "config.api_key"), // the config is checked first
		bad("single quotes", `{'documents': []}`, "malformed JSON"),
		bad("deeply nested body", deep, "malformed JSON", "max depth"),
		bad("deeply nested column", rawStart(`[{"file_path":"a.pdf","x":`+deep+`}]`), "malformed JSON", "max depth"),
		bad("raw NUL byte in a string", rawStart("[{\"file_path\":\"a\x00.pdf\"}]"), "malformed JSON"),
		bad("invalid UTF-8 in file_path", rawStart("[{\"file_path\":\"caf\xe9.pdf\"}]"), "UTF-8"),
		bad("invalid UTF-8 in a column name", rawStart("[{\"file_path\":\"a.pdf\",\"\xff\xfe\":\"x\"}]"), "UTF-8"),
		bad("truncated UTF-8 after the object", rawStart(`[{"file_path":"a.pdf"}]`)+"\xe2\x82", "single JSON object"),
		bad("invalid UTF-8 in model_name", "{\"documents\":[{\"file_path\":\"a.pdf\"}],\"config\":{\"model_name\":\"builtin/keywords\xc0\"}}", "UTF-8"),

		// Wrong types, each named by its JSON path.
		bad("documents as object", withTop("documents", map[string]any{"file_path": "a.pdf"}), "documents", "array"),
		// Results add these fields: such a column vanished from JSON results
		// and was doubled in the CSV header.
		bad("column named like a result field", withTop("documents", []any{map[string]any{"file_path": "a.pdf", "row_id": 99}}),
			"documents[0].row_id", "rename the column"),
		bad("documents as string", withTop("documents", "a.pdf"), "documents", "array"),
		bad("document row is an array", withDocs(map[string]any{"file_path": "a.pdf"}, []any{"b.pdf"}), "documents[1]", "object"),
		bad("document row is null", withDocs(map[string]any{"file_path": "a.pdf"}, nil), "documents[1]", "object"),
		bad("file_path is a number", withDocs(map[string]any{"file_path": "a.pdf"}, map[string]any{"file_path": 7}), "documents[1].file_path", "string"),
		bad("num_tags as string", withConfig("num_tags", "eight"), "config.num_tags"),
		bad("num_tags fractional", withConfig("num_tags", 8.5), "config.num_tags", "integer"),
		bad("num_tags overflows", `{"documents":[{"file_path":"a.pdf"}],"config":{"model_name":"builtin/keywords","num_tags":1e400}}`, "config.num_tags"),
		bad("config as array", withTop("config", []any{}), "config", "object"),
		bad("config as string", withTop("config", "fast"), "config", "object"),
		bad("job_id as number", withTop("job_id", 42), "job_id", "string"),
		bad("job_id as object", withTop("job_id", map[string]any{"$gt": ""}), "job_id", "string"),
		bad("column_mapping as array", withTop("column_mapping", []any{"URL"}), "column_mapping", "object"),
		bad("column_mapping value a number", withTop("column_mapping", map[string]any{"URL": 1}), "column_mapping"),
		bad("exclusion_words as number", withConfig("exclusion_words", 3), "config.exclusion_words"),
		bad("unknown top-level field", withTop("documentz", 1), "documentz", "unknown field"),
		bad("unknown config field", withConfig("num_tag", 5), "num_tag", "unknown field"),

		// Out-of-range values.
		bad("num_tags 0", withConfig("num_tags", 0), "config.num_tags", "between 3 and 15"),
		bad("num_tags 100", withConfig("num_tags", 100), "config.num_tags", "between 3 and 15"),
		bad("num_tags negative", withConfig("num_tags", -8), "config.num_tags"),
		bad("num_pages 0", withConfig("num_pages", 0), "config.num_pages", "between 1 and 10"),
		bad("num_pages 11", withConfig("num_pages", 11), "config.num_pages", "between 1 and 10"),
		bad("model_name with spaces", withConfig("model_name", "gpt 4; rm -rf /"), "config.model_name"),
		bad("model_name with a newline", withConfig("model_name", "gpt-4\nX-Injected: 1"), "config.model_name"),
		bad("model_name 201 characters", withConfig("model_name", strings.Repeat("m", 201)), "config.model_name"),
		bad("llm model without a key", withConfig("model_name", "openai/gpt-4o-mini"), "config.api_key"),
		// A typo of the built-in tagger went to the provider with the server's key.
		bad("built-in model misspelt", withConfig("model_name", "builtin/keyword"), "config.model_name", "builtin/keywords"),
		bad("api_key with a line break", withConfig("model_name", "openai/gpt-4o-mini", "api_key", "sk-abc12345\r\nX-Injected: 1"),
			"config.api_key", "control characters"),
		bad("ocr unknown", withConfig("ocr", "always"), "config.ocr", "auto, off, force"),
		bad("ocr as number", withConfig("ocr", 1), "config.ocr", "string"),
		bad("ocr_languages with a space", withConfig("ocr_languages", "eng hin"), "config.ocr_languages", "'+'"),
		bad("ocr_languages path", withConfig("ocr_languages", "../../etc/passwd"), "config.ocr_languages"),
		bad("tag_language unknown", withConfig("tag_language", "fr"), "config.tag_language", "original"),
		bad("no documents", withTop("documents", []any{}), "documents", "at least one"),
		bad("row over 64 KiB", withDocs(map[string]any{"file_path": "a.pdf", "title": strings.Repeat("t", 70<<10)}), "documents[0]", "bytes"),

		// Paths: control bytes, traversal, wrong schemes.
		bad("NUL byte in file_path", withDocs(map[string]any{"file_path": "a.pdf"}, map[string]any{"file_path": "ok.pdf\x00.txt"}), "documents[1].file_path"),
		bad("newline in file_path", withDocs(map[string]any{"file_path": "a.pdf\r\nHost: evil"}), "documents[0].file_path"),
		bad("file_path over 4096 bytes", withDocs(map[string]any{"file_path": strings.Repeat("a/", 2100) + "x.pdf"}), "documents[0].file_path"),
		bad("local ../ traversal", withDocs(map[string]any{"file_path": "../../etc/passwd"}), "documents[0].file_path", ".."),
		bad("local traversal mid-path", withDocs(map[string]any{"file_path": "a.pdf"}, map[string]any{"file_path": "reports/../../../etc/shadow"}), "documents[1].file_path", ".."),
		bad("local backslash traversal", withDocs(map[string]any{"file_path": `..\..\windows\win.ini`}), "documents[0].file_path", ".."),
		bad("local path ending in ..", withDocs(map[string]any{"file_path": "reports/.."}), "documents[0].file_path"),
		bad("explicit local with traversal", withDocs(map[string]any{"file_path": "x/../../y.pdf", "file_source_type": "LOCAL"}), "documents[0].file_path"),
		bad("mapped column with traversal", startBody(func(m map[string]any) {
			m["documents"] = []any{map[string]any{"Doc": "a.pdf"}, map[string]any{"Doc": "../secret.pdf"}}
			m["column_mapping"] = map[string]any{"Doc": "file_path"}
		}), "documents[1].file_path"),
		bad("file:// as url", withDocs(map[string]any{"file_path": "file:///etc/passwd", "file_source_type": "url"}), "documents[0].file_path", "http"),
		bad("javascript: as url", withDocs(map[string]any{"file_path": "javascript:alert(1)", "file_source_type": "url"}), "documents[0].file_path"),
		bad("gopher:// as url", withDocs(map[string]any{"file_path": "gopher://127.0.0.1:6379/_FLUSHALL", "file_source_type": "url"}), "documents[0].file_path"),
		bad("url without host", withDocs(map[string]any{"file_path": "http:///a.pdf"}), "documents[0].file_path"),
		bad("s3 type with an http path", withDocs(map[string]any{"file_path": "http://x/a.pdf", "file_source_type": "s3"}), "documents[0].file_path", "s3://"),
		bad("unknown source type", withDocs(map[string]any{"file_path": "a.pdf", "file_source_type": "ftp"}), "documents[0].file_source_type"),
		bad("mapping to a non-system field", withTop("column_mapping", map[string]any{"URL": "filepath"}), `column_mapping["URL"]`),
		bad("two columns mapped to file_path", withTop("column_mapping", map[string]any{"A": "file_path", "B": "file_path"}), "column_mapping", "both map to file_path"),

		// Client job ids become NATS subject tokens: separators and
		// wildcards must never get through.
		bad("job_id ../", withTop("job_id", "../etc"), "job_id"),
		bad("job_id %2e%2e", withTop("job_id", "%2e%2e"), "job_id"),
		bad("job_id with dots", withTop("job_id", "a.b.c"), "job_id"),
		bad("job_id with a slash", withTop("job_id", "a/b"), "job_id"),
		bad("job_id wildcard *", withTop("job_id", "*"), "job_id"),
		bad("job_id wildcard >", withTop("job_id", ">"), "job_id"),
		bad("job_id with a space", withTop("job_id", "job 1"), "job_id"),
		bad("job_id 65 characters", withTop("job_id", strings.Repeat("j", 65)), "job_id"),

		// Sizes.
		{"body over 32 MiB", "POST", start, `{"documents":[{"file_path":"` + strings.Repeat("a", 33<<20) + `"}]}`, 413, "too_large", []string{"exceeds 32 MiB"}},
		{"10,001 documents", "POST", start, manyDocs(10001, true), 413, "too_large", []string{"documents", "10001", "limit of 10000"}},
		{"validate 1,001 documents", "POST", validate, manyDocs(1001, false), 413, "too_large", []string{"documents", "1000"}},
		{"validate documents as object", "POST", validate, `{"documents":{}}`, 400, "invalid", []string{"documents", "array"}},
		{"validate invalid UTF-8", "POST", validate, "{\"documents\":[{\"file_path\":\"\xc3\x28\"}]}", 400, "invalid", []string{"UTF-8"}},

		// Job ids in URLs: traversal, encodings and subject wildcards are
		// unknown jobs, never a read of another job's (or every job's) subjects.
		{"status ..%2F..%2Fetc", "GET", "/api/batch/jobs/..%2F..%2Fetc/status", nil, 404, "not_found", []string{"no route"}},
		notFound("status %2e%2e", "GET", "/api/batch/jobs/%2e%2e/status"),
		notFound("status of dots", "GET", "/api/batch/jobs/.../status"),
		notFound("status *", "GET", "/api/batch/jobs/*/status"),
		notFound("status >", "GET", "/api/batch/jobs/%3E/status"),
		notFound("events *", "GET", "/api/batch/jobs/*/events"),
		notFound("events >", "GET", "/api/batch/jobs/%3E/events"),
		notFound("events jobs.*.job", "GET", "/api/batch/jobs/a.*.job/events"),
		notFound("results >", "GET", "/api/batch/jobs/%3E/results"),
		notFound("status NUL", "GET", "/api/batch/jobs/a%00b/status"),
		notFound("pause *", "POST", "/api/batch/jobs/*/pause"),
		notFound("cancel >", "POST", "/api/batch/jobs/%3E/cancel"),
		notFound("resume a.b", "POST", "/api/batch/jobs/a.b/resume"),
		notFound("retry *", "POST", "/api/batch/jobs/*/retry"),
		{"cancel with an array body", "POST", "/api/batch/jobs/x/cancel", `[]`, 400, "invalid", []string{"JSON object"}},
		{"cancel with reason a number", "POST", "/api/batch/jobs/x/cancel", `{"reason":5}`, 400, "invalid", []string{"reason", "string"}},
	}
}

func TestHostileRequests(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("mallory@example.com")
	cases := hostileCases()
	if len(cases) < 40 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body := e.call(c.method, c.path, u.token, c.body)
			if st >= 500 {
				t.Fatalf("server error %d: %v", st, body)
			}
			detail, _ := body["detail"].(string)
			if st != c.status || body["code"] != c.code {
				t.Fatalf("got %d %v, want %d %s: %s", st, body["code"], c.status, c.code, detail)
			}
			for _, want := range c.detail {
				if !strings.Contains(detail, want) {
					t.Errorf("detail %q does not mention %q", detail, want)
				}
			}
		})
	}
	// None of it may have created a job, not even half of one.
	jobs := e.mustCall("GET", "/api/batch/jobs", u.token, nil, http.StatusOK)["jobs"].([]any)
	if len(jobs) != 0 {
		t.Fatalf("hostile requests left %d jobs behind: %v", len(jobs), jobs)
	}
	// And the server still works for honest requests.
	job := e.startJob(u, 1, nil)
	e.mustCall("GET", "/api/batch/jobs/"+job+"/status", u.token, nil, http.StatusOK)
}
