// Package pipeline is the tagging pipeline: fetch a document, extract its
// text, and ask the model (or the offline keyword tagger) for tags. It
// knows nothing of jobs, queues or the log.
package pipeline

import (
	"context"
	"errors"

	"github.com/tagstream/tagstream/events"
)

// TagInput is one document to tag.
type TagInput struct {
	JobID    string
	Attempt  int
	Document events.Document
	Config   events.JobConfig
	APIKey   string // empty for keyless models
	// Owner is the job owner's id: the content cache is per owner, so
	// nobody learns another's tags from it.
	Owner string
	// Cache holds earlier taggings of identical documents; nil: none.
	Cache Cache
	// Probe is what CacheProbe.Cached read on a miss: Tag neither reads
	// the document again nor asks the cache again. nil: not probed.
	Probe *Probe
}

// Probe is a document's bytes as CacheProbe.Cached read them, or why they
// could not be read: a source is read once per attempt, even when it
// fails or is slow.
type Probe struct {
	data []byte
	err  error
}

// CacheProbe is a Tagger that can tell, before any extraction or model
// call, that the content cache holds a document's tags. The worker asks
// it first so a cached document is recorded without taking a tagging
// slot, an API key or a DocumentStarted.
type CacheProbe interface {
	// Cached returns the cached tags (hit), or else what it read, for Tag.
	Cached(ctx context.Context, in TagInput) (out TagOutput, hit bool, read *Probe)
}

// CacheEntry is an earlier tagging: the sequence of its DocumentTagged
// and its tags.
type CacheEntry struct {
	Seq  uint64   `json:"seq"`
	Tags []string `json:"tags"`
	// JobID is the job whose DocumentTagged (Seq) the tags are from: a
	// store may seal them under its data key, so erasing that job ends
	// their reuse (issue 15).
	JobID string `json:"job_id,omitempty"`
}

// Cache finds earlier taggings by CacheKey.
type Cache interface {
	Get(ctx context.Context, key string) (CacheEntry, bool, error)
}

// TagOutput is a successful tagging.
type TagOutput struct {
	Tags     []string
	Metadata events.TagMetadata
	// CacheKey is where a model's result may be remembered once recorded
	// ("" when it may not: cache off, no owner, tagged offline or from
	// the cache itself).
	CacheKey string
}

// Tagger turns one document into tags. Errors should be *Failure so the
// worker knows whether the document or the whole job failed.
type Tagger interface {
	Tag(ctx context.Context, in TagInput) (TagOutput, error)
}

// TaggerFunc adapts a function to Tagger.
type TaggerFunc func(ctx context.Context, in TagInput) (TagOutput, error)

// Tag implements Tagger.
func (f TaggerFunc) Tag(ctx context.Context, in TagInput) (TagOutput, error) { return f(ctx, in) }

// Failure is a classified tagging error.
type Failure struct {
	Code     string // machine code, e.g. "fetch_not_found", "scanned", "llm_auth"
	Reason   string // human reason, shown in results; never a secret
	JobFatal bool   // the job cannot succeed (an invalid API key): fail it at once
	// Unreachable: the model endpoint could not be reached at all, or its
	// provider refused every call (429) until the document's deadline
	// (Code says which). The document is not at fault; the worker gives it
	// back and, if this repeats, pauses or fails the job
	// (services/job.DecideUnreachable).
	Unreachable bool
	Metadata    events.TagMetadata
}

func (f *Failure) Error() string { return f.Reason }

// AsFailure classifies any error from a tagger.
func AsFailure(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Failure{Code: "timeout", Reason: "document took longer than the per-document deadline"}
	}
	return &Failure{Code: "tagging_failed", Reason: err.Error()}
}
