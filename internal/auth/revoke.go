package auth

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagstream/tagstream/internal/apperr"
)

// Access tokens are stateless, so logging out or deleting an account
// would leave them working until they expire. The revocation list closes
// that gap: it names ended sessions (sid.<family>) and accounts whose
// earlier tokens must stop (usr.<id>, with the time). It lives in NATS KV,
// shared by every process, with a TTL of one access-token lifetime (plus
// skew): after that, every token it could refuse has expired anyway.
//
// Each process keeps the list in memory, filled by a KV watch, so the check
// on every request is a map lookup; a process's own revocations are applied
// to memory before the call returns, and other processes' within the watch
// delay (milliseconds).
const revokedBucket = "tagstream_revoked"

type revocation struct {
	At  int64 `json:"at"`  // unix ms: tokens issued at or before this are refused (usr.*)
	Exp int64 `json:"exp"` // unix ms: after this nothing it refuses is still valid
}

type revocations struct {
	mu      sync.RWMutex
	entries map[string]revocation
	stop    func()
}

func (r *revocations) set(key string, rv revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.entries[key]; ok && old.At > rv.At {
		rv.At = old.At
	}
	r.entries[key] = rv
}

func (r *revocations) lookup(key string, now time.Time) (revocation, bool) {
	r.mu.RLock()
	rv, ok := r.entries[key]
	r.mu.RUnlock()
	if ok && now.UnixMilli() > rv.Exp {
		r.mu.Lock()
		delete(r.entries, key)
		r.mu.Unlock()
		return revocation{}, false
	}
	return rv, ok
}

// revoked reports whether a token of session sid for user, issued at
// issuedMs, has been revoked.
func (s *Service) revoked(sid, user string, issuedMs int64, now time.Time) bool {
	if sid != "" {
		if _, ok := s.revoke.lookup("sid."+sid, now); ok {
			return true
		}
	}
	if rv, ok := s.revoke.lookup("usr."+user, now); ok && issuedMs <= rv.At {
		return true
	}
	return false
}

func (s *Service) revokeTTL() time.Duration { return s.cfg.AccessTTL + clockSkew + time.Second }

// putRevocation stores key in the shared list and in memory.
func (s *Service) putRevocation(ctx context.Context, key string) error {
	now := s.now()
	rv := revocation{At: now.UnixMilli(), Exp: now.Add(s.revokeTTL()).UnixMilli()}
	b, _ := json.Marshal(rv)
	s.revoke.set(key, rv)
	if _, err := s.revokedKV.Put(ctx, key, b); err != nil {
		return apperr.Wrap(err, "auth: store revocation")
	}
	return nil
}

// openRevocations creates the bucket and starts the watch; it returns once
// the existing entries are loaded, so a restarted process never accepts a
// token revoked before it started.
func openRevocations(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.KeyValue, *revocations, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      revokedBucket,
		Description: "Tagstream revoked sessions and accounts, for one access-token lifetime",
		History:     1,
		TTL:         cfg.AccessTTL + clockSkew + time.Second,
		Storage:     jetstream.FileStorage,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, nil, apperr.Wrap(err, "auth: revocation bucket")
	}
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, nil, apperr.Wrap(err, "auth: watch revocations")
	}
	r := &revocations{entries: map[string]revocation{}}
	r.stop = func() { cancel(); _ = w.Stop() }
	loaded := make(chan struct{})
	go func() {
		initial := true
		for e := range w.Updates() {
			if e == nil {
				if initial {
					initial = false
					close(loaded)
				}
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				continue // entries expire by themselves; a delete never un-revokes
			}
			var rv revocation
			if json.Unmarshal(e.Value(), &rv) == nil {
				r.set(e.Key(), rv)
			}
		}
		if initial {
			close(loaded)
		}
	}()
	select {
	case <-loaded:
	case <-ctx.Done():
		r.stop()
		return nil, nil, apperr.Wrap(errors.Join(ctx.Err(), errors.New("revocation list not loaded")), "auth: watch revocations")
	}
	return kv, r, nil
}

// Close stops the revocation watch.
func (s *Service) Close() {
	if s.revoke != nil && s.revoke.stop != nil {
		s.revoke.stop()
	}
}
