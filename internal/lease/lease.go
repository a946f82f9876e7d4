// Package lease lets one process of several hold a named lease in a NATS
// JetStream key-value bucket: the key's revision is the proof of holding.
// The holder renews by updating the key at its revision; anyone else
// takes it when the key is absent (create-if-absent), or when its revision
// has not moved for a whole TTL on their own clock (update at the revision
// they saw), so a holder that dies is replaced within the TTL plus two
// ticks (11-12 s with the defaults), or sooner when the bucket's TTL has
// removed its key.
// A holder whose update finds another revision has lost it, at once.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket holds the leases. Its TTL removes a key nobody renews, so a
// process starting after every holder died takes the lease at once.
const Bucket = "tagstream_leases"

// Defaults: a holder's death is taken over within TTL + 2*Every = 12 s.
const (
	DefaultTTL   = 10 * time.Second
	DefaultEvery = time.Second
)

// OpenBucket opens the lease bucket, creating it with ttl if there is none,
// and returns the TTL every claim must use: the bucket's. Its TTL is the
// cluster's, and one process with another value used to rewrite it for
// everyone (its keys then expired while holders still counted on their
// own, longer TTL, and two processes held at once); a caller whose ttl
// differs is told so by the returned value and should say it.
func OpenBucket(ctx context.Context, js jetstream.JetStream, replicas int, ttl time.Duration) (jetstream.KeyValue, time.Duration, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	for range 3 { // a bucket created by another process in between
		kv, err := js.KeyValue(ctx, Bucket)
		if err == nil {
			st, err := kv.Status(ctx)
			if err != nil {
				return nil, 0, fmt.Errorf("lease bucket: %w", err)
			}
			if st.TTL() > 0 {
				return kv, st.TTL(), nil
			}
			return kv, ttl, nil
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, 0, fmt.Errorf("lease bucket: %w", err)
		}
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: Bucket, Description: "leases: which process does a job only one may do", History: 1,
			TTL: ttl, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
		})
		if err == nil {
			return kv, ttl, nil
		}
		if !errors.Is(err, jetstream.ErrBucketExists) {
			return nil, 0, fmt.Errorf("lease bucket: %w", err)
		}
	}
	return nil, 0, fmt.Errorf("lease bucket: created and removed concurrently; try again")
}

// Config says which lease, who asks, and how long a claim lasts.
type Config struct {
	KV     jetstream.KeyValue
	Key    string
	Holder string        // this process, as others will see it
	TTL    time.Duration // a claim's life without renewal; 0: DefaultTTL
	Every  time.Duration // how often Run renews or tries; 0: DefaultEvery
	Now    func() time.Time
	Log    *slog.Logger
}

// Status is what /api/ready and the metrics show.
type Status struct {
	Key    string `json:"key"`
	Holder string `json:"holder"`       // the holder as last seen ("" when nobody)
	Self   string `json:"this_process"` // this process's name
	Held   bool   `json:"held"`         // this process holds it
}

// Lease is one process's view of, and claim on, one lease.
type Lease struct {
	cfg Config

	mu         sync.Mutex
	held       bool
	rev        uint64    // our revision while held
	validUntil time.Time // held only before this, even without news
	holder     string    // as last seen
	seenRev    uint64    // another holder's revision, as last seen
	seenAt     time.Time // when seenRev was first seen
	changed    chan struct{}
}

type record struct {
	Holder string    `json:"holder"`
	At     time.Time `json:"at"`
}

// New returns a lease that is not held yet: call Tick or Run.
func New(cfg Config) *Lease {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Lease{cfg: cfg, changed: make(chan struct{})}
}

// Held reports whether this process holds the lease now. It turns false
// by itself when a renewal is overdue, before anyone else may take it.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held && l.cfg.Now().Before(l.validUntil)
}

// Changed is closed when Held changes (gained or lost by a tick).
func (l *Lease) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// Status says who holds the lease, as this process last saw it.
func (l *Lease) Status() Status {
	held := l.Held()
	l.mu.Lock()
	defer l.mu.Unlock()
	return Status{Key: l.cfg.Key, Holder: l.holder, Self: l.cfg.Holder, Held: held}
}

// Run ticks until ctx is done. It does not release the lease: call
// Release for a clean handover (a process that just stops is a death,
// and is taken over after the TTL).
func (l *Lease) Run(ctx context.Context) error {
	t := time.NewTicker(l.cfg.Every)
	defer t.Stop()
	for {
		if err := l.Tick(ctx); err != nil && ctx.Err() == nil {
			l.cfg.Log.Warn("lease", "key", l.cfg.Key, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Tick renews the lease if held, else tries to take it.
func (l *Lease) Tick(ctx context.Context) error {
	l.mu.Lock()
	held, rev := l.held, l.rev
	l.mu.Unlock()
	if held {
		return l.renew(ctx, rev)
	}
	return l.try(ctx)
}

func (l *Lease) value() []byte {
	b, _ := json.Marshal(record{Holder: l.cfg.Holder, At: l.cfg.Now()})
	return b
}

func (l *Lease) renew(ctx context.Context, rev uint64) error {
	sent := l.cfg.Now()
	next, err := l.cfg.KV.Update(ctx, l.cfg.Key, l.value(), rev)
	switch {
	case err == nil:
		l.gain(next, sent)
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
		// Taken over (or expired and gone): stop at once, then look.
		l.lose("another process holds it")
		return l.try(ctx)
	default:
		if !l.Held() {
			l.lose("renewal overdue: " + err.Error())
		}
		return err
	}
}

func (l *Lease) try(ctx context.Context) error {
	sent := l.cfg.Now()
	ent, err := l.cfg.KV.Get(ctx, l.cfg.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		rev, err := l.cfg.KV.Create(ctx, l.cfg.Key, l.value())
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil // another process was first
		}
		if err != nil {
			return err
		}
		l.gain(rev, sent)
		return nil
	}
	if err != nil {
		return err
	}
	var rec record
	_ = json.Unmarshal(ent.Value(), &rec)
	l.mu.Lock()
	if ent.Revision() != l.seenRev {
		// Alive (or new): it gets a whole TTL from now on our clock.
		l.seenRev, l.seenAt, l.holder = ent.Revision(), sent, rec.Holder
		l.mu.Unlock()
		return nil
	}
	stale := !sent.Before(l.seenAt.Add(l.cfg.TTL))
	seen := l.seenRev
	l.mu.Unlock()
	if !stale {
		return nil
	}
	// Unchanged for a TTL: its holder is gone. Take it at the revision we
	// saw, so a late renewal wins instead of being overwritten.
	rev, err := l.cfg.KV.Update(ctx, l.cfg.Key, l.value(), seen)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	l.cfg.Log.Info("lease taken over from a silent holder", "key", l.cfg.Key, "from", rec.Holder)
	l.gain(rev, sent)
	return nil
}

// gain records a write at rev sent at sent: the claim lasts a TTL from
// when it was sent (others count theirs from after it landed), less a
// margin for clocks that run at slightly different rates.
func (l *Lease) gain(rev uint64, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A renewal that lands after the claim lapsed (Held already said no,
	// and a runner may have stopped applying) is a gain too.
	was := l.held && l.cfg.Now().Before(l.validUntil)
	l.held, l.rev, l.holder = true, rev, l.cfg.Holder
	l.validUntil = sent.Add(l.cfg.TTL - l.cfg.TTL/5)
	l.seenRev = 0
	if !was {
		l.cfg.Log.Info("lease held", "key", l.cfg.Key, "holder", l.cfg.Holder)
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

func (l *Lease) lose(why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return
	}
	l.held, l.rev = false, 0
	l.holder = ""
	l.cfg.Log.Warn("lease lost", "key", l.cfg.Key, "holder", l.cfg.Holder, "why", why)
	close(l.changed)
	l.changed = make(chan struct{})
}

// Release gives the lease up at once (deleting the key at our revision),
// so another process takes it at its next tick instead of after the TTL.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	held, rev := l.held, l.rev
	l.mu.Unlock()
	if !held {
		return nil
	}
	l.lose("released")
	err := l.cfg.KV.Delete(ctx, l.cfg.Key, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil
	}
	return err
}
