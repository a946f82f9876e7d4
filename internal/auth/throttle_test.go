package auth

import (
	"context"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/apperr"
)

func from(addr string) context.Context {
	return WithClientAddr(context.Background(), addr)
}

// TestLoginThrottlePerAccount: wrong passwords for one account end in 429
// with a wait, even with the right password and from fresh addresses;
// another user on the same address still logs in; the wait passes.
func TestLoginThrottlePerAccount(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Throttle = ThrottleConfig{AccountBurst: 5, AccountEvery: time.Minute, AddrBurst: 100, AddrEvery: time.Second}
	})
	f.mustLogin(t, "bob@example.com")
	if _, err := f.svc.Register(context.Background(), "alice@example.com", "correct horse", ""); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, _, err := f.svc.Login(from("203.0.113.7"), "alice@example.com", "wrong guess")
		wantCode(t, err, apperr.Unauthorized)
	}
	for _, addr := range []string{"203.0.113.7", "198.51.100.9", "2001:db8::1"} {
		_, _, err := f.svc.Login(from(addr), "ALICE@example.com", "correct horse")
		wantCode(t, err, apperr.RateLimited)
		secs, ok := RetryAfter(err)
		if !ok || secs < 1 || secs > 60 {
			t.Fatalf("RetryAfter = %d, %v; want 1..60 s", secs, ok)
		}
	}
	if _, _, err := f.svc.Login(from("203.0.113.7"), "bob@example.com", "correct horse"); err != nil {
		t.Fatalf("another user on the same address: %v", err)
	}
	f.clock.Advance(time.Minute)
	if _, _, err := f.svc.Login(from("203.0.113.7"), "alice@example.com", "correct horse"); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

// TestLoginThrottlePerAddress: one address guessing across many accounts
// is stopped; other addresses are not; successes do not count.
func TestLoginThrottlePerAddress(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Throttle = ThrottleConfig{AccountBurst: 100, AccountEvery: time.Second, AddrBurst: 4, AddrEvery: time.Minute}
	})
	f.mustLogin(t, "bob@example.com")
	for range 10 { // successful logins give their token back
		if _, _, err := f.svc.Login(from("192.0.2.1"), "bob@example.com", "correct horse"); err != nil {
			t.Fatal(err)
		}
	}
	for _, victim := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"} {
		_, _, err := f.svc.Login(from("2001:db8:1:2::5"), victim, "wrong guess")
		wantCode(t, err, apperr.Unauthorized)
	}
	// Another host in the same /64 shares the bucket.
	_, _, err := f.svc.Login(from("2001:db8:1:2::99"), "e@example.com", "wrong guess")
	wantCode(t, err, apperr.RateLimited)
	if _, ok := RetryAfter(err); !ok {
		t.Fatal("no Retry-After")
	}
	if _, _, err := f.svc.Login(from("192.0.2.1"), "bob@example.com", "correct horse"); err != nil {
		t.Fatalf("other address: %v", err)
	}
}

// TestBcryptSlotsBounded: with every slot taken, a login waits and gives up
// with its context instead of hashing on yet another core.
func TestBcryptSlotsBounded(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Throttle.BcryptSlots = 1 })
	f.mustLogin(t, "bob@example.com")
	f.svc.throttle.bcrypt <- struct{}{} // hold the only slot
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := f.svc.throttle.withBcrypt(ctx, func() { ran = true })
	wantCode(t, err, apperr.Unavailable)
	if ran {
		t.Fatal("hashed without a slot")
	}
	<-f.svc.throttle.bcrypt
	if _, _, err := f.svc.Login(from("192.0.2.1"), "bob@example.com", "correct horse"); err != nil {
		t.Fatal(err)
	}
}
