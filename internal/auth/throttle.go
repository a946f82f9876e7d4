package auth

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/tagstream/tagstream/internal/apperr"
)

// Login throttling. Every attempt takes a token from two buckets, one for
// the account and one for the client address, before any bcrypt work; a
// successful login gives them back. So guessing is slowed per account
// (however many addresses) and per address (however many accounts), and a
// flood is answered with 429 without spending a hash on it.
//
// The account bucket is more generous than it looks like it needs to be:
// an attacker can empty it for a victim, and the victim then waits for
// the refill too. One attempt per AccountEvery keeps online guessing of a
// single account to ~700 a day while a locked-out owner waits a minute.
type ThrottleConfig struct {
	AccountBurst int           // default 10
	AccountEvery time.Duration // one attempt regained per; default 2m
	AddrBurst    int           // default 30
	AddrEvery    time.Duration // default 10s
	// BcryptSlots bounds concurrent bcrypt hashes (login and registration),
	// so a flood that passes the throttles (many addresses) queues instead
	// of taking every core; default GOMAXPROCS.
	BcryptSlots int
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	if c.AccountBurst <= 0 {
		c.AccountBurst = 10
	}
	if c.AccountEvery <= 0 {
		c.AccountEvery = 2 * time.Minute
	}
	if c.AddrBurst <= 0 {
		c.AddrBurst = 30
	}
	if c.AddrEvery <= 0 {
		c.AddrEvery = 10 * time.Second
	}
	if c.BcryptSlots <= 0 {
		c.BcryptSlots = runtime.GOMAXPROCS(0)
	}
	return c
}

// maxBuckets bounds the throttle's memory. Full buckets are dropped first
// (they hold no information); beyond that, arbitrary ones.
const maxBuckets = 100_000

type bucket struct {
	tokens float64
	at     time.Time
}

// limiter is a set of token buckets keyed by string.
type limiter struct {
	mu    sync.Mutex
	burst float64
	every time.Duration
	m     map[string]*bucket
}

func newLimiter(burst int, every time.Duration) *limiter {
	return &limiter{burst: float64(burst), every: every, m: map[string]*bucket{}}
}

func (l *limiter) refill(b *bucket, now time.Time) {
	if now.After(b.at) {
		b.tokens = math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	}
	b.at = now
}

// take removes one token, or says how long until one is available.
func (l *limiter) take(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		l.makeRoom(now)
		b = &bucket{tokens: l.burst, at: now}
		l.m[key] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	return 0
}

// give returns a token taken by an attempt that turned out legitimate.
func (l *limiter) give(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.m[key]; ok {
		l.refill(b, now)
		b.tokens = math.Min(l.burst, b.tokens+1)
	}
}

func (l *limiter) makeRoom(now time.Time) {
	if len(l.m) < maxBuckets {
		return
	}
	for k, b := range l.m {
		if l.refill(b, now); b.tokens >= l.burst {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < maxBuckets {
			break
		}
		delete(l.m, k)
	}
}

type throttle struct {
	accounts, addrs *limiter
	bcrypt          chan struct{}
}

func newThrottle(c ThrottleConfig) *throttle {
	c = c.withDefaults()
	return &throttle{
		accounts: newLimiter(c.AccountBurst, c.AccountEvery),
		addrs:    newLimiter(c.AddrBurst, c.AddrEvery),
		bcrypt:   make(chan struct{}, c.BcryptSlots),
	}
}

// withBcrypt runs f in one of the bounded bcrypt slots.
func (t *throttle) withBcrypt(ctx context.Context, f func()) error {
	select {
	case t.bcrypt <- struct{}{}:
	case <-ctx.Done():
		return apperr.New(apperr.Unavailable, "server busy: login not attempted")
	}
	defer func() { <-t.bcrypt }()
	f()
	return nil
}

type clientAddrKey struct{}

// WithClientAddr tells Login which address the attempt comes from (the
// TCP peer; never a header the client can set).
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// addrKey groups IPv6 clients by /64, which one host usually controls
// entirely; v4 addresses are their own key.
func addrKey(ctx context.Context) string {
	s, _ := ctx.Value(clientAddrKey{}).(string)
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "addr:unknown"
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "net:" + p.String()
	}
	return "ip:" + a.String()
}

// ThrottledError is a 429 that carries how long to wait, for Retry-After.
type ThrottledError struct {
	err   *apperr.Error
	After time.Duration
}

func (e *ThrottledError) Error() string { return e.err.Error() }
func (e *ThrottledError) Unwrap() error { return e.err }

// RetryAfter reports the wait of a throttled login, rounded up to seconds.
func RetryAfter(err error) (int, bool) {
	var te *ThrottledError
	if !errors.As(err, &te) {
		return 0, false
	}
	return max(1, int(math.Ceil(te.After.Seconds()))), true
}

func throttled(what string, d time.Duration) error {
	secs := max(1, int(math.Ceil(d.Seconds())))
	return &ThrottledError{
		err:   apperr.New(apperr.RateLimited, "too many login attempts %s; retry in %d s", what, secs),
		After: d,
	}
}

// admit takes one attempt from the account's and the address's buckets;
// it gives the first back when the second refuses, so a refused attempt
// costs nothing.
func (t *throttle) admit(ctx context.Context, email string, now time.Time) (done func(ok bool), err error) {
	acct, addr := "acct:"+email, addrKey(ctx)
	if len(email) > maxEmailBytes {
		acct = "acct:(too long)" // never an account; keeps keys small
	}
	if d := t.addrs.take(addr, now); d > 0 {
		return nil, throttled("from this address", d)
	}
	if d := t.accounts.take(acct, now); d > 0 {
		t.addrs.give(addr, now)
		return nil, throttled("for this account", d)
	}
	return func(ok bool) {
		if ok {
			t.accounts.give(acct, now)
			t.addrs.give(addr, now)
		}
	}, nil
}
