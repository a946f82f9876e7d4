package pipeline

import (
	"net/url"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/fetch"
)

// SourceKey names the bytes a document is fetched from, so that rows of
// one job naming the same source in different spellings share one fetch:
// the source type (inferred when the row left it out) and the path, for
// URLs with scheme and host in lower case, without a default port and
// without the fragment (never sent to the server). ok is false for
// uploads (their bytes are in the cluster already, named by their hash).
func SourceKey(doc events.Document) (key string, ok bool) {
	typ := doc.SourceType
	if typ == "" {
		typ = fetch.InferType(doc.FilePath)
	}
	path := doc.FilePath
	switch typ {
	case fetch.TypeUpload, "":
		return "", false
	case fetch.TypeURL:
		if u, err := url.Parse(path); err == nil && u.Host != "" {
			u.Scheme, u.Host, u.Fragment, u.RawFragment = strings.ToLower(u.Scheme), strings.ToLower(u.Host), "", ""
			if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
				u.Host = u.Hostname()
			}
			path = u.String()
		}
	}
	return typ + "\x00" + path, true
}

// CacheApplies reports whether a job's documents may take earlier tags of
// identical bytes: config cache on, and tags from a model (the offline
// keyword tagger is not worth remembering).
func CacheApplies(cfg events.JobConfig) bool {
	return cfg.Model != KeywordsModel && cfg.CacheOn()
}
