package pipeline

import (
	"testing"

	"github.com/tagstream/tagstream/events"
)

// The cache key changes with the owner, the bytes and every setting that
// shapes tags, and not with the order or case of exclusion words.
func TestCacheKey(t *testing.T) {
	base := events.JobConfig{Model: "m", NumTags: 8, NumPages: 3, ExclusionWords: []string{"Govt", "india"}, KeySource: "job"}
	key := CacheKey("u1", "d1", base)
	same := base
	same.ExclusionWords = []string{"India", "govt"}
	same.KeySource = "server" // where the key comes from does not shape tags
	if CacheKey("u1", "d1", same) != key {
		t.Fatal("exclusion order/case or key source changed the key")
	}
	variants := map[string]func(c *events.JobConfig){
		"model":         func(c *events.JobConfig) { c.Model = "m2" },
		"num_tags":      func(c *events.JobConfig) { c.NumTags = 9 },
		"num_pages":     func(c *events.JobConfig) { c.NumPages = 4 },
		"exclusions":    func(c *events.JobConfig) { c.ExclusionWords = []string{"govt"} },
		"tag_language":  func(c *events.JobConfig) { c.TagLanguage = TagLanguageOriginal },
		"ocr":           func(c *events.JobConfig) { c.OCR = "off" },
		"ocr_languages": func(c *events.JobConfig) { c.OCRLanguages = "eng+hin" },
	}
	seen := map[string]string{key: "base"}
	for name, mod := range variants {
		c := base
		c.ExclusionWords = append([]string(nil), base.ExclusionWords...)
		mod(&c)
		k := CacheKey("u1", "d1", c)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s gives the key of %s", name, prev)
		}
		seen[k] = name
	}
	if CacheKey("u2", "d1", base) == key || CacheKey("u1", "d2", base) == key {
		t.Fatal("owner or digest does not change the key")
	}
}
