package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/pdftext"
)

// CacheKey names a tagging result: the owner, the SHA-256 of the
// document's bytes, and everything that shapes the tags (model, prompt
// and extractor versions, tag count, exclusions, tag language, pages read
// and OCR settings). Any change to one of them is another key. The key is
// a hash, so it carries neither owner nor content in clear, and is a valid
// NATS KV key.
func CacheKey(owner, digest string, cfg events.JobConfig) string {
	excl := make([]string, 0, len(cfg.ExclusionWords))
	for _, w := range cfg.ExclusionWords {
		excl = append(excl, strings.ToLower(strings.TrimSpace(w)))
	}
	slices.Sort(excl)
	settings, _ := json.Marshal(struct {
		Model, Prompt, Extractor string
		NumTags, NumPages        int
		Exclusions               []string
		TagLanguage, OCR, OCRLng string
	}{cfg.Model, llm.PromptVersion, pdftext.ExtractorVersion, cfg.NumTags, cfg.NumPages, excl,
		cfg.TagLanguage, cfg.OCR, cfg.OCRLanguages})
	h := sha256.New()
	for _, part := range [][]byte{[]byte(owner), []byte(digest), settings} {
		h.Write(part)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
