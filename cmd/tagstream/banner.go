package main

import (
	"net"
	"net/netip"
	"strconv"

	"github.com/tagstream/tagstream/internal/ocr"
)

// bannerAttrs are the settings that decide whether a first job can
// succeed, logged once when serve starts listening, with the console's
// address: where local paths may be, whether private URLs may be fetched,
// whether jobs need their own model key (never the key itself), OCR and
// who may register.
func bannerAttrs(cfg config, addr net.Addr) []any {
	localRoot := cfg.LocalRoot
	if localRoot == "" {
		localRoot = "(none: local paths are refused; set TAGSTREAM_LOCAL_ROOT)"
	}
	key := "no (jobs need their own api_key, or model builtin/keywords)"
	if cfg.LLMAPIKey != "" {
		key = "yes"
	}
	ocrState := "available"
	if err := ocr.Available(); err != nil {
		ocrState = "unavailable (scanned documents will fail): " + err.Error()
	}
	registration := cfg.Registration
	if registration == "" {
		registration = "open"
	}
	return []any{"console", consoleAddress(addr), "local_root", localRoot,
		"private_urls_allowed", cfg.AllowPrivate, "server_llm_key", key, "llm_base_url", cfg.LLMBaseURL,
		"ocr", ocrState, "registration", registration, "workers", cfg.Workers,
		"webhooks", cfg.WebhookSecret != ""}
}

// consoleAddress is the URL to open in a browser: a wildcard listen
// address is reachable as localhost.
func consoleAddress(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	host := ap.Addr().Unmap().String()
	if ap.Addr().IsUnspecified() {
		host = "localhost"
	} else if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + strconv.Itoa(int(ap.Port())) + "/"
}
