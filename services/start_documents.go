package services

import (
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/ocr"
	"github.com/tagstream/tagstream/services/pipeline"
)

// Values of JobConfig.TagLanguage; the pipeline owns them.
const (
	TagLanguageEnglish  = pipeline.TagLanguageEnglish
	TagLanguageOriginal = pipeline.TagLanguageOriginal
)

// documentOptions checks the OCR and tag language settings. Only values
// the client gave are stored: empty means the default, so events of jobs
// that never set them keep their earlier shape.
func documentOptions(cfg *events.JobConfig, in StartConfig) error {
	if v := strings.TrimSpace(in.OCR); v != "" {
		m, err := ocr.ParseMode(v)
		if err != nil {
			return apperr.Field("config.ocr", "%v, got %q", err, v)
		}
		cfg.OCR = string(m)
	}
	if v := strings.TrimSpace(in.OCRLanguages); v != "" {
		if err := ocr.CheckLanguages(v); err != nil {
			return apperr.Field("config.ocr_languages", "%v", err)
		}
		cfg.OCRLanguages = v
	}
	switch v := strings.ToLower(strings.TrimSpace(in.TagLanguage)); v {
	case "":
	case TagLanguageEnglish, TagLanguageOriginal:
		cfg.TagLanguage = v
	default:
		return apperr.Field("config.tag_language", "must be %q or %q, got %q", TagLanguageEnglish, TagLanguageOriginal, in.TagLanguage)
	}
	return nil
}
