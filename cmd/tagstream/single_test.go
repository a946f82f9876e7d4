package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/testenv"
)

// singleForm is one multipart part of a single-process request.
type singleForm struct {
	name, filename string
	data           []byte
}

// postSingle sends POST /api/single/process over real HTTP.
func (e *env) postSingle(token string, parts ...singleForm) (int, map[string]any) {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			e.t.Fatal(err)
		}
		_, _ = w.Write(p.data)
	}
	_ = mw.Close()
	req, _ := http.NewRequest("POST", e.url+"/api/single/process", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST /api/single/process: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if json.Unmarshal(raw, &out) != nil {
		out["_raw"] = string(raw)
	}
	return resp.StatusCode, out
}

func keywordsConfig(extra string) singleForm {
	return singleForm{name: "config", data: []byte(`{"model_name":"builtin/keywords","num_tags":5` + extra + `}`)}
}

// An uploaded corpus PDF is tagged synchronously as a one-document job
// that is audited and listed like any other; its bytes are in the upload
// bucket, not in the log.
func TestSingleProcessUploadIsAJobLikeAnyOther(t *testing.T) {
	corpus := testenv.Corpus(t)
	pdf, err := os.ReadFile(filepath.Join(corpus, "circular-water.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	e := pipelineEnv(t, "http://127.0.0.1:1/v1")
	u := e.register("single@example.com")
	st, out := e.postSingle(u.token, singleForm{"pdf_file", `C:\docs\circular-water.pdf`, pdf}, keywordsConfig(`,"exclusion_words":["water"]`))
	if st != http.StatusOK {
		t.Fatalf("status %d: %v", st, out)
	}
	tags, _ := out["tags"].([]any)
	if out["status"] != "success" || len(tags) != 5 || out["title"] != "circular-water.pdf" || out["error"] != nil {
		t.Fatalf("answer %v", out)
	}
	for _, tag := range tags {
		// The exclusion rule: no tag that "water" makes half of.
		words := strings.Fields(tag.(string))
		if n := strings.Count(" "+tag.(string)+" ", " water "); 2*n >= len(words) {
			t.Errorf("excluded word covers tag %q", tag)
		}
	}
	if md, _ := out["metadata"].(map[string]any); md == nil || md["model"] != "builtin/keywords" {
		t.Errorf("metadata %v", out["metadata"])
	}
	job := out["job_id"].(string)
	if s := e.status(u, job); s["status"] != "completed" || s["total_documents"] != float64(1) {
		t.Errorf("job status %v", s)
	}
	evs := e.mustCall("GET", "/api/batch/jobs/"+job+"/events", u.token, nil, 200)["events"].([]any)
	var types []string
	for _, ev := range evs {
		types = append(types, ev.(map[string]any)["type"].(string))
		data, _ := json.Marshal(ev)
		if bytes.Contains(data, pdf[:200]) || len(data) > 64<<10 {
			t.Errorf("an event holds the upload: %d bytes", len(data))
		}
	}
	if !strings.Contains(strings.Join(types, ","), "DocumentTagged") || types[0] == "" {
		t.Errorf("events %v", types)
	}
	hist := e.mustCall("GET", "/api/batch/jobs", u.token, nil, 200)["jobs"].([]any)
	if len(hist) != 1 || hist[0].(map[string]any)["job_id"] != job {
		t.Errorf("history %v", hist)
	}
	// Another user cannot read it.
	v := e.register("other@example.com")
	e.mustCall("GET", "/api/batch/jobs/"+job+"/status", v.token, nil, 404)
}

func TestSingleProcessByURL(t *testing.T) {
	srv := corpusServer(t)
	e := pipelineEnv(t, "http://127.0.0.1:1/v1")
	u := e.register("url@example.com")
	st, out := e.postSingle(u.token, singleForm{name: "pdf_url", data: []byte(srv.URL + "/tender-notice.pdf?token=secret")}, keywordsConfig(""))
	if st != http.StatusOK || out["status"] != "success" || out["title"] != "tender-notice.pdf" {
		t.Fatalf("status %d: %v", st, out)
	}
	// A document that fails is still a 200 answer with the reason.
	st, out = e.postSingle(u.token, singleForm{name: "pdf_url", data: []byte(srv.URL + "/not-a-pdf.pdf")}, keywordsConfig(""))
	if st != http.StatusOK || out["status"] != "failed" || !strings.Contains(out["error"].(string), "not a PDF") {
		t.Fatalf("status %d: %v", st, out)
	}
}

func TestSingleProcessRefusesBadInput(t *testing.T) {
	corpus := testenv.Corpus(t)
	pdf, err := os.ReadFile(filepath.Join(corpus, "circular-water.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	big, err := os.ReadFile(filepath.Join(corpus, "tender-notice.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	notPDF, err := os.ReadFile(filepath.Join(corpus, "not-a-pdf.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.MaxFetchBytes = int64(len(pdf)) // tender-notice.pdf is larger
	e := startEnv(t, cfg, newTagger(cfg, testLogger()))
	u := e.register("bad@example.com")
	cases := []struct {
		name  string
		parts []singleForm
		want  int
		field string
	}{
		{"neither", []singleForm{keywordsConfig("")}, 400, "pdf_file"},
		{"both", []singleForm{{"pdf_file", "a.pdf", pdf}, {name: "pdf_url", data: []byte("https://example.com/a.pdf")}, keywordsConfig("")}, 400, "pdf_url"},
		{"over cap", []singleForm{{"pdf_file", "big.pdf", big}, keywordsConfig("")}, 413, "pdf_file"},
		{"not a pdf", []singleForm{{"pdf_file", "x.pdf", notPDF}, keywordsConfig("")}, 400, "pdf_file"},
		{"empty file", []singleForm{{"pdf_file", "x.pdf", nil}, keywordsConfig("")}, 400, "pdf_file"},
		{"bad config", []singleForm{{"pdf_file", "a.pdf", pdf}, {name: "config", data: []byte(`{"num_tags":99,"model_name":"builtin/keywords"}`)}}, 400, "config.num_tags"},
		{"unknown config field", []singleForm{{"pdf_file", "a.pdf", pdf}, {name: "config", data: []byte(`{"nope":1}`)}}, 400, "config"},
		{"unknown part", []singleForm{{"pdf_file", "a.pdf", pdf}, {name: "documents", data: []byte("[]")}}, 400, "documents"},
		{"twice", []singleForm{{"pdf_file", "a.pdf", pdf}, {"pdf_file", "b.pdf", pdf}}, 400, "pdf_file"},
		{"bad url", []singleForm{{name: "pdf_url", data: []byte("ftp://x/y.pdf")}, keywordsConfig("")}, 400, "pdf_url"}, // the field sent, not the start's
	}
	for _, c := range cases {
		st, out := e.postSingle(u.token, c.parts...)
		if st != c.want || out["field"] != c.field {
			t.Errorf("%s: status %d field %v, want %d %s: %v", c.name, st, out["field"], c.want, c.field, out)
		}
	}
	// Not multipart at all.
	st, out := e.call("POST", "/api/single/process", u.token, map[string]any{"pdf_url": "https://example.com/a.pdf"})
	if st != 400 {
		t.Errorf("JSON body: %d %v", st, out)
	}
	// No token.
	if st, _ := e.postSingle("", singleForm{"pdf_file", "a.pdf", pdf}); st != 401 {
		t.Errorf("no token: %d", st)
	}
	// A batch start cannot name an upload.
	st, out = e.call("POST", "/api/batch/start", u.token, map[string]any{
		"documents": []any{map[string]any{"file_path": "upload:sha256:" + strings.Repeat("0", 64), "file_source_type": "upload"}},
		"config":    map[string]any{"model_name": "builtin/keywords"}})
	if st != 400 || out["field"] != "documents[0].file_source_type" {
		t.Errorf("batch start with an upload: %d %v", st, out)
	}
	// Nothing was started by the refused requests.
	if hist := e.mustCall("GET", "/api/batch/jobs", u.token, nil, 200)["jobs"].([]any); len(hist) != 0 {
		t.Errorf("refused requests left jobs: %v", hist)
	}
}
