package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// TestServeLogsAStartupBanner: one line with the console URL and the
// settings a first job depends on; the server's key shows as "yes", never
// as itself.
func TestServeLogsAStartupBanner(t *testing.T) {
	cfg := testConfig(t)
	cfg.LocalRoot, cfg.AllowPrivate, cfg.LLMAPIKey = t.TempDir(), true, "sk-banner-secret-123"
	e, logs := startEnvLog(t, cfg, &fakeTagger{})
	var banner map[string]any
	waitFor(t, "the banner", func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"Tagstream is ready"`) {
				return json.Unmarshal([]byte(line), &banner) == nil
			}
		}
		return false
	})
	if banner["console"] != e.url+"/" || banner["local_root"] != cfg.LocalRoot || banner["private_urls_allowed"] != true ||
		banner["server_llm_key"] != "yes" || banner["registration"] != "open" || banner["ocr"] == nil {
		t.Fatalf("banner: %v", banner)
	}
	if strings.Contains(logs.String(), cfg.LLMAPIKey) {
		t.Fatalf("the log shows the server's key")
	}
}

func TestConsoleAddressOfAWildcardListenIsLocalhost(t *testing.T) {
	for in, want := range map[string]string{"0.0.0.0:8000": "http://localhost:8000/", "[::]:8000": "http://localhost:8000/",
		"127.0.0.1:9": "http://127.0.0.1:9/", "[::1]:80": "http://[::1]:80/"} {
		addr, err := net.ResolveTCPAddr("tcp", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := consoleAddress(addr); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
