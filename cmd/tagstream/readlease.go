package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/lease"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/projections"
)

// shared is what a serve process needs to share a PostgreSQL read
// database with others; zero with SQLite.
type shared struct {
	lease     *lease.Lease
	announcer *lease.Announcer
	stopLease func()
	// versionRebuild: one rebuild of new model versions at a time (at
	// start and on a takeover both may ask).
	versionRebuild sync.Mutex
}

// leaseKey names the read models' lease in lease.Bucket.
const leaseKey = "projections"

// shareReadSide makes this process one of the serve processes sharing a
// PostgreSQL read database: it applies the log only while it holds the
// projections' lease, and otherwise follows the holder's commits
// (announced on NATS, polled as well). With SQLite each serve keeps its
// own copy and applies it alone: no lease. It takes the lease once at
// once, so a first process catches up before it serves.
func (a *app) shareReadSide(ctx context.Context) error {
	if a.readDB.Dialect != sqldb.Postgres {
		return nil
	}
	ttl := a.cfg.ReadLeaseTTL
	if ttl <= 0 {
		ttl = lease.DefaultTTL
	}
	kv, bucketTTL, err := lease.OpenBucket(ctx, a.conn.JS, a.conn.Replicas(), ttl)
	if err != nil {
		return err
	}
	if bucketTTL != ttl {
		a.log.Warn("TAGSTREAM_READ_LEASE_TTL differs from the cluster's lease TTL, which this process uses; "+
			"to change it, stop every serve and delete the bucket "+lease.Bucket,
			"configured", ttl.String(), "cluster", bucketTTL.String())
		ttl = bucketTTL
	}
	if a.announcer, err = lease.NewAnnouncer(a.conn.NC); err != nil {
		return fmt.Errorf("projection commits: %w", err)
	}
	host, _ := os.Hostname()
	a.lease = lease.New(lease.Config{KV: kv, Key: leaseKey, TTL: ttl, Every: min(lease.DefaultEvery, ttl/5),
		Holder: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), events.NewID()[:6]), Log: a.log})
	a.read.Shared(projections.Share{Lease: a.lease, Announce: a.announcer.Announce, Announced: a.announcer.Announced(),
		// A process taking over after a rolling upgrade builds the models
		// whose serving generation the old release wrote.
		OnLead: func() {
			if names := a.read.NeedsRebuild(); len(names) > 0 {
				a.rebuildNewVersions(names)
			}
		}})
	if err := a.lease.Tick(ctx); err != nil {
		a.log.Warn("projection lease: first try", "err", err)
	}
	// Renewed from now on, through the catch-up too (a long one must not
	// let the lease lapse), until close.
	lctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.lease.Run(lctx) }()
	a.stopLease = func() { stop(); <-done }
	st := a.lease.Status()
	a.log.Info("read database shared by serve processes", "applies", st.Held, "holder", st.Holder, "this_process", st.Self)
	return nil
}

// releaseReadLease hands the lease over at shutdown, so another process
// takes over at its next tick instead of after the TTL.
func (a *app) releaseReadLease() {
	if a.lease == nil {
		return
	}
	a.stopLease()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.lease.Release(ctx); err != nil {
		a.log.Warn("projection lease: release", "err", err)
	}
	a.announcer.Close()
}

// readLease says which process applies the read models, for /api/ready
// and the metrics; nil when the read database is not shared.
func (a *app) readLease() *lease.Status {
	if a.lease == nil {
		return nil
	}
	st := a.lease.Status()
	// Holding the lease and applying are one thing once the runner has
	// switched; between the two, say what the runner does.
	st.Held = st.Held && a.read.Leading()
	return &st
}

// leaseMetric is readLease for tagstream_projection_lease_held.
func (a *app) leaseMetric() (held bool, holder string, shared bool) {
	st := a.readLease()
	if st == nil {
		return false, "", false
	}
	return st.Held, st.Holder, true
}
