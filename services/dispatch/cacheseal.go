package dispatch

import (
	"context"
	"encoding/json"

	"github.com/tagstream/tagstream/services/pipeline"
)

// The content cache holds tags, which are document data: with keys set,
// an entry's tags are sealed under the data key of the job they came from
// (its JobID), so erasing that job makes the entry a miss and leaves only
// ciphertext in the bucket's files.

// SealWith makes the cache seal the tags it stores.
func (c *KVCache) SealWith(keys TaskKeys) { c.keys = keys }

// storedEntry is an entry as stored: Sealed holds the tags when sealed.
type storedEntry struct {
	pipeline.CacheEntry
	Sealed []byte `json:"sealed,omitempty"`
}

func cacheAAD(e pipeline.CacheEntry) []byte { return []byte("cache\x00" + e.JobID) }

func (c *KVCache) sealEntry(ctx context.Context, e pipeline.CacheEntry) (storedEntry, error) {
	if c.keys == nil || e.JobID == "" {
		return storedEntry{CacheEntry: e}, nil
	}
	k, err := c.keys.ForAppend(ctx, e.JobID)
	if err != nil {
		return storedEntry{}, err
	}
	plain, err := json.Marshal(e.Tags)
	if err != nil {
		return storedEntry{}, err
	}
	blob := k.Seal(plain, cacheAAD(e))
	e.Tags = nil
	return storedEntry{CacheEntry: e, Sealed: blob}, nil
}

// openEntry returns a stored entry with its tags opened; an entry of an
// erased job (or one that does not open) is a miss.
func (c *KVCache) openEntry(ctx context.Context, s storedEntry) (pipeline.CacheEntry, bool, error) {
	e := s.CacheEntry
	if s.Sealed == nil {
		return e, true, nil
	}
	if c.keys == nil {
		return e, false, nil
	}
	k, err := c.keys.ForRead(ctx, e.JobID)
	if err != nil || k == nil {
		return e, false, err
	}
	plain, err := k.Open(s.Sealed, cacheAAD(e))
	if err != nil || json.Unmarshal(plain, &e.Tags) != nil {
		return e, false, nil
	}
	return e, true, nil
}
