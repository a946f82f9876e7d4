package httpapi

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/tagstream/tagstream/internal/apperr"
)

// maxBurst caps how many requests a user may send at once after a quiet
// spell: enough for a human retrying or a script starting a few batches,
// too few to flood the task queue.
const maxBurst = 10

// Per-address limits serve uses: registrations per minute per address,
// and starts per address as a multiple of the per-user start rate.
const (
	DefaultRegisterRate = 20
	AddrStartFactor     = 5
)

// rateLimiter gives every user a token bucket for one expensive command.
// A start appends up to 10,000 documents to the log and a validation may
// make 1,000 outbound fetches, so one account must not be able to issue
// them without bound. Buckets are per process: behind several API
// processes a user gets the limit once per process, which still bounds
// the flood.
type rateLimiter struct {
	perMinute int
	limit     rate.Limit
	burst     int
	idle      time.Duration // a bucket unused this long is full again
	now       func() time.Time

	mu        sync.Mutex
	users     map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newRateLimiter allows perMinute requests per user and minute, with a
// burst of up to maxBurst; perMinute <= 0 disables it (nil).
func newRateLimiter(perMinute int) *rateLimiter {
	return newBurstLimiter(perMinute, maxBurst)
}

// newAddrLimiter is the limiter per client address: several honest users
// may share an address (an office, a NAT), so its burst is larger.
func newAddrLimiter(perMinute int) *rateLimiter {
	return newBurstLimiter(perMinute, 5*maxBurst)
}

func newBurstLimiter(perMinute, maxBurst int) *rateLimiter {
	if perMinute <= 0 {
		return nil
	}
	burst := min(perMinute, maxBurst)
	l := rate.Limit(float64(perMinute) / 60)
	return &rateLimiter{perMinute: perMinute, limit: l, burst: burst, now: time.Now,
		idle:  time.Duration(float64(burst)/float64(l)*float64(time.Second)) + time.Second,
		users: map[string]*bucket{}}
}

// wait takes a token for user and returns 0, or, when the bucket is empty,
// how long until the next token (taking nothing).
func (l *rateLimiter) wait(user string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.users[user]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.users[user] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request must not use up a later token
		return d
	}
	return 0
}

// sweep forgets buckets that are full again, at most once per idle period,
// so the map holds only recently active users.
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.idle {
		return
	}
	l.lastSweep = now
	for id, b := range l.users {
		if now.Sub(b.seen) >= l.idle {
			delete(l.users, id)
		}
	}
}

// limit answers 429 rate_limited with Retry-After (whole seconds, rounded
// up) when the caller's bucket is empty. It runs after authenticate, so
// the key is the verified user id, never something the client chose.
func (s *Server) limit(l *rateLimiter) gin.HandlerFunc {
	return s.limitBy(l, "user", func(c *gin.Context) string { return caller(c).Actor.ID })
}

// limitAddr is limit keyed by the client's address: the TCP peer
// (c.RemoteIP), never X-Forwarded-For, which any client can write.
func (s *Server) limitAddr(l *rateLimiter) gin.HandlerFunc {
	return s.limitBy(l, "client address", func(c *gin.Context) string { return c.RemoteIP() })
}

func (s *Server) limitBy(l *rateLimiter, per string, key func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if l == nil {
			c.Next()
			return
		}
		d := l.wait(key(c))
		if d <= 0 {
			c.Next()
			return
		}
		secs := int(math.Ceil(d.Seconds()))
		c.Header("Retry-After", strconv.Itoa(secs))
		fail(c, apperr.New(apperr.RateLimited,
			"too many requests: at most %d per minute per %s (bursts of %d) for %s; retry in %d s",
			l.perMinute, per, l.burst, c.FullPath(), secs))
	}
}

// concurrency caps how many long requests (observers, validations) one
// user has in flight at once; rates alone do not bound those.
type concurrency struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newConcurrency(max int) *concurrency {
	return &concurrency{max: max, n: map[string]int{}}
}

// acquire takes a slot for key, or reports false when all are in use.
// release must be called once for every true.
func (k *concurrency) acquire(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n[key] >= k.max {
		return false
	}
	k.n[key]++
	return true
}

func (k *concurrency) release(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n[key]--; k.n[key] <= 0 {
		delete(k.n, key)
	}
}
