package main

import (
	"log/slog"
	"time"

	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/ocr"
	"github.com/tagstream/tagstream/internal/pdftext"
	"github.com/tagstream/tagstream/services/pipeline"
)

// newTagger builds the production tagging pipeline from the settings.
func newTagger(cfg config, log *slog.Logger) pipeline.Tagger {
	if err := ocr.Available(); err != nil && log != nil {
		log.Warn("OCR unavailable: scanned documents will fail", "err", err)
	}
	extract := pdftext.Options{MaxBytes: cfg.MaxFetchBytes, Timeout: 60 * time.Second}
	// Validated at startup; tests that build a config by hand get none.
	if n, _ := parseBytes(cfg.ExtractMemory); n > 0 {
		extract.Memory = pdftext.NewMemoryGate(n)
	}
	p := pipeline.New(
		fetchConfig(cfg),
		// Never more calls in flight per model and key than workers.
		llm.Config{BaseURL: cfg.LLMBaseURL, DocTimeout: cfg.DocTimeout, MaxConcurrency: cfg.Workers},
		extract,
	)
	// validate refused a bad TAGSTREAM_MODEL_PRICES before we get here.
	if prices, err := llm.ParsePrices(cfg.ModelPrices); err == nil {
		p.SetPrices(prices)
	} else if log != nil {
		log.Warn("model prices not read; using the defaults", "err", err)
	}
	var t pipeline.Tagger = p
	if wrapTagger != nil {
		t = wrapTagger(t)
	}
	return t
}

// wrapTagger is set only by the test binary (a helper process simulating
// a process death); the real binary has no such hook.
var wrapTagger func(pipeline.Tagger) pipeline.Tagger

// fetchConfig is the one set of fetch rules for tagging and pre-flight checks.
func fetchConfig(cfg config) fetch.Config {
	return fetch.Config{MaxBytes: cfg.MaxFetchBytes, AllowPrivate: cfg.AllowPrivate, LocalRoot: cfg.LocalRoot}
}
