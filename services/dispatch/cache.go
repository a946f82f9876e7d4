package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/services/pipeline"
)

// ContentCache remembers model results by pipeline.CacheKey, for every
// worker of every process.
type ContentCache interface {
	pipeline.Cache
	Put(ctx context.Context, key string, e pipeline.CacheEntry) error
}

// CacheBucket is the NATS KV bucket of the content cache: key
// pipeline.CacheKey (owner, bytes and settings hashed), value the sequence
// and tags of the DocumentTagged it was written after. It survives
// restarts and is shared by workers on every machine. The log stays the
// truth: the bucket is an index that can be dropped at any time (it only
// costs model calls).
const CacheBucket = "tagstream_content_cache"

// KVCache is the ContentCache in a NATS KV bucket.
type KVCache struct {
	kv   jetstream.KeyValue
	keys TaskKeys // nil: tags in the clear (cacheseal.go)
}

var _ ContentCache = (*KVCache)(nil)

// OpenContentCache opens (or creates) the cache bucket.
func OpenContentCache(ctx context.Context, js jetstream.JetStream, replicas int) (*KVCache, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: CacheBucket, Description: "content cache: earlier tags of identical documents, per owner", History: 1,
		Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("content cache: bucket: %w", err)
	}
	return &KVCache{kv: kv}, nil
}

// Get implements pipeline.Cache.
func (c *KVCache) Get(ctx context.Context, key string) (pipeline.CacheEntry, bool, error) {
	ent, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return pipeline.CacheEntry{}, false, nil
	}
	if err != nil {
		return pipeline.CacheEntry{}, false, err
	}
	var e storedEntry
	if err := json.Unmarshal(ent.Value(), &e); err != nil {
		return pipeline.CacheEntry{}, false, nil // unreadable: as if absent, and overwritten next time
	}
	return c.openEntry(ctx, e)
}

// Put implements ContentCache.
func (c *KVCache) Put(ctx context.Context, key string, e pipeline.CacheEntry) error {
	sealed, err := c.sealEntry(ctx, e)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(sealed)
	if err != nil {
		return err
	}
	_, err = c.kv.Put(ctx, key, raw)
	return err
}

// owner returns the id of the job's owner ("" when unknown: no cache).
func (w *Worker) owner(ctx context.Context, jobID string) string {
	w.mu.Lock()
	var owner string
	if st := w.jobs[jobID]; st != nil && st.Exists() {
		owner = st.Owner.ID
	}
	w.mu.Unlock()
	if owner != "" {
		return owner
	}
	if st, err := w.jobAt(ctx, jobID); err == nil && st.Exists() {
		return st.Owner.ID
	}
	return ""
}
