package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/internal/llm"
)

// modelLimitsBucket holds what the model clients of all processes learned
// about a provider's limits, keyed by a hash of model and API key (never
// the key): the concurrency at which it last refused and a cooldown. It is
// advisory and short-lived, so entries expire after an hour.
const modelLimitsBucket = "tagstream_model_limits"

// kvLimits is llm.SharedLimits in a NATS KV bucket.
type kvLimits struct{ kv jetstream.KeyValue }

func openModelLimits(ctx context.Context, js jetstream.JetStream, replicas int) (*kvLimits, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: modelLimitsBucket, Description: "learned model provider limits per model and key hash", History: 1,
		TTL: time.Hour, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("model limits: bucket: %w", err)
	}
	return &kvLimits{kv: kv}, nil
}

// limitsIO bounds a bucket access. The limiter calls Load and Store in the
// background, never on a model call's path (during a JetStream leader
// loss they block until this timeout); the bound keeps those goroutines,
// one of each per model and key, from piling up.
const limitsIO = 2 * time.Second

func (k *kvLimits) Load(ctx context.Context, id string) (llm.SharedLimit, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limitsIO)
	defer cancel()
	var s llm.SharedLimit
	e, err := k.kv.Get(ctx, id)
	if err != nil || json.Unmarshal(e.Value(), &s) != nil {
		return s, false
	}
	return s, true
}

func (k *kvLimits) Store(ctx context.Context, id string, s llm.SharedLimit) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limitsIO)
	defer cancel()
	if raw, err := json.Marshal(s); err == nil {
		_, _ = k.kv.Put(ctx, id, raw)
	}
}
