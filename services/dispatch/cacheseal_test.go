package dispatch

import (
	"bytes"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/datakeys"
	"github.com/tagstream/tagstream/services/pipeline"
)

// With data keys, a cached tagging keeps its tags sealed under the job
// they came from: the bucket holds no tag, a hit opens them, and once
// that job is erased the entry is a miss.
func TestContentCacheSealsTagsUnderTheJobsKey(t *testing.T) {
	r := NewRig(t, time.Minute)
	keys, err := datakeys.Open(r.Ctx, r.Conn.JS, 1, bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	cache, err := OpenContentCache(r.Ctx, r.Conn.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	cache.SealWith(keys)
	if err := cache.Put(r.Ctx, "k1", pipeline.CacheEntry{Seq: 7, Tags: []string{"Fenwickmarsh"}, JobID: "job-1"}); err != nil {
		t.Fatal(err)
	}
	raw, err := cache.kv.Get(r.Ctx, "k1")
	if err != nil || bytes.Contains(raw.Value(), []byte("Fenwickmarsh")) {
		t.Fatalf("stored entry %s: %v", raw.Value(), err)
	}
	got, ok, err := cache.Get(r.Ctx, "k1")
	if err != nil || !ok || got.Seq != 7 || len(got.Tags) != 1 || got.Tags[0] != "Fenwickmarsh" {
		t.Fatalf("hit: %+v %v %v", got, ok, err)
	}
	if err := keys.Destroy(r.Ctx, "job-1"); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := cache.Get(r.Ctx, "k1"); err != nil || ok {
		t.Fatalf("an erased job's entry: %+v %v %v", got, ok, err)
	}
}
