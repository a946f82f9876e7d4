package lease

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/testenv"
)

func bucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	conn := natstest.Start(t, "")
	kv, _, err := OpenBucket(context.Background(), conn.JS, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

const ttl = 10 * time.Second

func proc(kv jetstream.KeyValue, c *testenv.Clock, name string) *Lease {
	return New(Config{KV: kv, Key: "projections", Holder: name, TTL: ttl, Every: 2 * time.Second, Now: c.Now})
}

func tick(t *testing.T, ls ...*Lease) {
	t.Helper()
	for _, l := range ls {
		if err := l.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// Exactly one of several processes holds the lease; renewals keep it; a
// holder that stops renewing is replaced once its revision has stood
// still for a TTL (not before), and it knows it lost even before it
// hears of the takeover.
func TestOneHolderAndTakeoverAfterTTL(t *testing.T) {
	kv := bucket(t)
	c := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) // shared by the test's processes
	a, b, d := proc(kv, c, "a"), proc(kv, c, "b"), proc(kv, c, "d")
	tick(t, a, b, d)
	if !a.Held() || b.Held() || d.Held() {
		t.Fatalf("held: a %v b %v d %v, want only a", a.Held(), b.Held(), d.Held())
	}
	if st := b.Status(); st.Holder != "a" || st.Self != "b" || st.Held {
		t.Fatalf("b sees %+v", st)
	}
	// Renewals every tick: nobody takes over however long it runs.
	for i := 0; i < 20; i++ {
		c.Advance(2 * time.Second)
		tick(t, a, b, d)
		if !a.Held() || b.Held() || d.Held() {
			t.Fatalf("after %d renewals: a %v b %v d %v", i+1, a.Held(), b.Held(), d.Held())
		}
	}
	// a dies (stops ticking). Its own view lapses before others may take it.
	lost := a.Changed()
	c.Advance(ttl - time.Second)
	tick(t, b, d)
	if a.Held() {
		t.Fatal("a still believes it holds the lease after missing its renewals")
	}
	if b.Held() || d.Held() {
		t.Fatal("taken over before the revision stood still for a TTL")
	}
	c.Advance(time.Second)
	gained := b.Changed()
	tick(t, b, d)
	if !b.Held() || d.Held() {
		t.Fatalf("after the TTL: b %v d %v, want exactly one new holder (b ticked first)", b.Held(), d.Held())
	}
	select {
	case <-gained:
	default:
		t.Fatal("b's Changed was not closed when it gained the lease")
	}
	// a comes back: its renewal finds another revision and it stops.
	tick(t, a)
	if a.Held() {
		t.Fatal("a renewed over b's lease")
	}
	select {
	case <-lost:
	default:
		t.Fatal("a's Changed was not closed when it lost the lease")
	}
	if st := d.Status(); st.Holder != "b" {
		t.Fatalf("d sees holder %q", st.Holder)
	}
}

// Release hands the lease over at the next tick, without waiting a TTL.
func TestReleaseHandsOverAtOnce(t *testing.T) {
	kv := bucket(t)
	c := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) // shared by the test's processes
	a, b := proc(kv, c, "a"), proc(kv, c, "b")
	tick(t, a, b)
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Held() {
		t.Fatal("a holds after release")
	}
	tick(t, b)
	if !b.Held() {
		t.Fatal("b did not take the released lease")
	}
}

// A key the bucket's TTL removed (every holder died long ago) is taken
// with create-if-absent by the first process to start.
func TestExpiredKeyIsCreatedAgain(t *testing.T) {
	conn := natstest.Start(t, "")
	kv, _, err := OpenBucket(context.Background(), conn.JS, 1, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	a := New(Config{KV: kv, Key: "projections", Holder: "a", TTL: 300 * time.Millisecond})
	tick(t, a)
	// Wait for the server to remove the key (bounded by the test's deadline).
	for {
		if _, err := kv.Get(context.Background(), "projections"); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b := New(Config{KV: kv, Key: "projections", Holder: "b", TTL: 300 * time.Millisecond})
	tick(t, b)
	if !b.Held() {
		t.Fatal("b did not create the expired lease")
	}
}

// A renewal that lands after the claim had lapsed (Held said no, so the
// runner stopped applying) announces the lease as gained again, so the
// runner does not stay a follower while holding it.
func TestLateRenewalIsAGain(t *testing.T) {
	kv := bucket(t)
	c := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) // shared by the test's processes
	a := proc(kv, c, "a")
	tick(t, a)
	c.Advance(ttl - time.Second) // renewals failed meanwhile: the claim lapsed
	if a.Held() {
		t.Fatal("held past its validity")
	}
	changed := a.Changed()
	tick(t, a) // the key is still ours (nobody took it): renewed
	if !a.Held() {
		t.Fatal("not held after the renewal")
	}
	select {
	case <-changed:
	default:
		t.Fatal("a late renewal did not signal the change back to held")
	}
}

// The bucket's TTL is the cluster's: a process configured with another
// one gets the bucket's to claim with, and the bucket keeps it. One
// process with a shorter TTL used to rewrite it for every process, whose
// keys then expired while their holders still counted on a longer claim.
func TestOpenBucketKeepsTheClustersTTL(t *testing.T) {
	ctx := context.Background()
	conn := natstest.Start(t, "")
	if _, got, err := OpenBucket(ctx, conn.JS, 1, 10*time.Second); err != nil || got != 10*time.Second {
		t.Fatalf("first process: TTL %s, %v", got, err)
	}
	kv, got, err := OpenBucket(ctx, conn.JS, 1, time.Second)
	if err != nil || got != 10*time.Second {
		t.Fatalf("a process configured with 1s: told %s, %v; want the cluster's 10s", got, err)
	}
	st, err := kv.Status(ctx)
	if err != nil || st.TTL() != 10*time.Second {
		t.Fatalf("bucket TTL after the second process: %v, %v", st, err)
	}
}
