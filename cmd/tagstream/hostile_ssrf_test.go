package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/testenv"
)

// SSRF: start accepts any syntactically valid http(s) URL; the refusal
// happens when a document is fetched. These tests prove that both the
// pre-flight (validate-paths) and the production pipeline refuse private
// addresses in every spelling, without ever connecting to them: loopback
// servers stand in for internal services and count their hits.

// countingServer is a loopback "internal service"; hits must stay 0.
type countingServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// ssrfTargets builds private-address URLs around the loopback servers.
func ssrfTargets(t *testing.T) (urls []string, servers []*countingServer) {
	pdf, err := os.ReadFile(testenv.CorpusFile(t, "circular-water.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	internal := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write(pdf)
	})
	// Redirects to the cloud metadata service. With private addresses
	// refused, the first hop (loopback) is already refused.
	redirector := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/security-credentials/", http.StatusFound)
	})
	port := internal.URL[strings.LastIndexByte(internal.URL, ':')+1:]
	at := func(host string) string { return fmt.Sprintf("http://%s:%s/doc.pdf", host, port) }
	urls = []string{
		internal.URL + "/doc.pdf", // 127.0.0.1
		at("localhost"),           // a name that resolves to loopback
		at("[::1]"),               // IPv6 loopback
		at("[::ffff:127.0.0.1]"),  // IPv4-mapped IPv6
		at("0.0.0.0"),             // "this host"
		at("2130706433"),          // decimal 127.0.0.1
		at("0177.0.0.1"),          // octal
		at("0x7f.0.0.1"),          // hex
		at("127.1"),               // short form
		"http://169.254.169.254/latest/meta-data/",
		"http://[fe80::1]/x.pdf",
		"http://10.0.0.1/x.pdf",
		"http://10.255.255.254/x.pdf",
		"http://172.16.0.1/x.pdf",
		"http://172.31.255.254/x.pdf",
		"http://192.168.0.1/x.pdf",
		"http://192.168.255.254/x.pdf",
		"http://[fd00::1]/x.pdf",
		redirector.URL + "/go",
	}
	return urls, []*countingServer{internal, redirector}
}

func assertNoHits(t *testing.T, servers []*countingServer) {
	t.Helper()
	for _, s := range servers {
		if n := s.hits.Load(); n != 0 {
			t.Errorf("internal server %s was contacted %d times", s.URL, n)
		}
	}
}

func TestValidatePathsRefusesPrivateAddressesWithoutConnecting(t *testing.T) {
	urls, servers := ssrfTargets(t)
	e := startEnv(t, testConfig(t), &fakeTagger{})
	u := e.register("mallory@example.com")
	docs := make([]any, len(urls))
	for i, p := range urls {
		docs[i] = map[string]any{"file_path": p}
	}
	out := e.mustCall("POST", "/api/batch/validate-paths", u.token, map[string]any{"documents": docs}, http.StatusOK)
	if out["valid"].(float64) != 0 || out["invalid"].(float64) != float64(len(urls)) {
		t.Errorf("valid=%v invalid=%v, want 0 and %d", out["valid"], out["invalid"], len(urls))
	}
	for _, r := range out["results"].([]any) {
		row := r.(map[string]any)
		if row["valid"] != false || row["error_code"] != "forbidden_address" {
			t.Errorf("row %v (%v): %v %v %q", row["row_id"], row["file_path"], row["valid"], row["error_code"], row["error"])
		}
	}
	assertNoHits(t, servers)
}

// TestPipelineRefusesPrivateAddressesAndTheJobCompletes runs one job
// through the production tagger (fetch, pdftext, offline keywords): every
// private URL fails with forbidden_address, nothing is contacted, and the
// one legitimate local document is tagged, so the job completes.
func TestPipelineRefusesPrivateAddressesAndTheJobCompletes(t *testing.T) {
	urls, servers := ssrfTargets(t)
	cfg := testConfig(t)
	cfg.AllowPrivate = false
	cfg.LocalRoot = t.TempDir()
	pdf, err := os.ReadFile(testenv.CorpusFile(t, "circular-water.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.LocalRoot, "good.pdf"), pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, cfg, newTagger(cfg, testLogger()))
	u := e.register("mallory@example.com")
	docs := []any{map[string]any{"file_path": "good.pdf", "title": "legit"}}
	for _, p := range urls {
		docs = append(docs, map[string]any{"file_path": p})
	}
	out := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"model_name": "builtin/keywords"}}, http.StatusOK)
	job := out["job_id"].(string)
	st := e.waitStatus(u, job, 60*time.Second, "completed", "failed", "cancelled")
	if st["status"] != "completed" || st["processed_count"].(float64) != 1 || st["failed_count"].(float64) != float64(len(urls)) {
		t.Fatalf("job ended %v", st)
	}
	res := e.mustCall("GET", "/api/batch/jobs/"+job+"/results?limit=100", u.token, nil, http.StatusOK)
	for _, r := range res["results"].([]any) {
		row := r.(map[string]any)
		if row["row_id"].(float64) == 0 {
			if row["status"] != "success" {
				t.Errorf("the legitimate document failed: %v", row)
			}
			continue
		}
		code, _ := row["error_code"].(string)
		if row["status"] != "failed" || !strings.HasSuffix(code, "forbidden_address") {
			t.Errorf("row %v (%v): %v %q %q", row["row_id"], row["file_path"], row["status"], code, row["error"])
		}
		// Reasons land in the event log: the URL may be named, but
		// never its query string or credentials.
		if msg, _ := row["error"].(string); strings.Contains(msg, "?") {
			t.Errorf("reason leaks a query string: %q", msg)
		}
	}
	assertNoHits(t, servers)
}

// Not part of the contract but cheap to pin: the loopback servers really
// are reachable, so zero hits above means "refused", not "down".
func TestSSRFTargetsAreReachableWhenAllowed(t *testing.T) {
	urls, servers := ssrfTargets(t)
	resp, err := http.Get(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if servers[0].hits.Load() != 1 {
		t.Fatal("the counting server did not count")
	}
}
