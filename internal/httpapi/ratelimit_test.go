package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/internal/testenv"
)

func newClockedLimiter(perMinute int) (*rateLimiter, *testenv.Clock) {
	l := newRateLimiter(perMinute)
	clk := testenv.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) // the bucket refills without sleeping
	l.now = clk.Now
	return l, clk
}

func TestRateLimiterBurstThenSteadyRate(t *testing.T) {
	l, clk := newClockedLimiter(60)
	for i := range 10 {
		if d := l.wait("u1"); d != 0 {
			t.Fatalf("request %d of the burst refused (wait %s)", i+1, d)
		}
	}
	d := l.wait("u1")
	if d <= 0 || d > time.Second {
		t.Fatalf("11th request: wait %s, want (0, 1s] at 60/min", d)
	}
	// Refusals take nothing: after one second exactly one more fits.
	for range 5 {
		l.wait("u1")
	}
	clk.Advance(time.Second)
	if d := l.wait("u1"); d != 0 {
		t.Fatalf("after 1s: refused (wait %s); refused requests must not consume tokens", d)
	}
	if d := l.wait("u1"); d == 0 {
		t.Fatal("second request after 1s allowed: only one token had refilled")
	}
	// Another user has a bucket of their own.
	if d := l.wait("u2"); d != 0 {
		t.Fatalf("other user refused (wait %s)", d)
	}
}

func TestRateLimiterSmallRateHasSmallBurstAndZeroDisables(t *testing.T) {
	l, _ := newClockedLimiter(3)
	for range 3 {
		if l.wait("u") != 0 {
			t.Fatal("burst of 3 refused")
		}
	}
	if d := l.wait("u"); d < 19*time.Second || d > 20*time.Second {
		t.Fatalf("4th request at 3/min: wait %s, want ~20s", d)
	}
	if newRateLimiter(0) != nil || newRateLimiter(-1) != nil {
		t.Fatal("a rate <= 0 must disable the limiter")
	}
}

func TestRateLimiterForgetsIdleUsers(t *testing.T) {
	l, clk := newClockedLimiter(60)
	for i := range 1000 {
		l.wait(fmt.Sprint("user-", i))
	}
	clk.Advance(time.Hour)
	l.wait("fresh")
	if n := len(l.users); n != 1 {
		t.Fatalf("%d buckets kept after an idle hour, want 1: the map would grow without bound", n)
	}
}

// TestRateLimitMiddlewareAnswers429 checks the HTTP side: 429, code
// rate_limited, a whole-second Retry-After and a detail that says why.
func TestRateLimitMiddlewareAnswers429(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	l, _ := newClockedLimiter(60)
	s := &Server{d: Deps{}}
	r := gin.New()
	asUser := func(c *gin.Context) { c.Set(claimsKey, auth.Claims{UserID: c.GetHeader("X-Test-User")}) }
	r.POST("/api/batch/start", asUser, s.limit(l), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	post := func(user string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/batch/start", nil)
		req.Header.Set("X-Test-User", user)
		r.ServeHTTP(w, req)
		return w
	}
	for range 10 {
		if w := post("a"); w.Code != http.StatusNoContent {
			t.Fatalf("within burst: %d %s", w.Code, w.Body)
		}
	}
	w := post("a")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("over the limit: %d Retry-After=%q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if body["code"] != "rate_limited" || !strings.Contains(body["detail"], "60 per minute") {
		t.Fatalf("429 body: %v", body)
	}
	if w := post("b"); w.Code != http.StatusNoContent {
		t.Fatalf("another user was limited too: %d", w.Code)
	}
	// nil limiter (TAGSTREAM_START_RATE=0) lets everything through.
	r2 := gin.New()
	r2.POST("/x", s.limit(nil), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	for range 50 {
		w := httptest.NewRecorder()
		r2.ServeHTTP(w, httptest.NewRequest("POST", "/x", nil))
		if w.Code != http.StatusNoContent {
			t.Fatalf("disabled limiter refused: %d", w.Code)
		}
	}
}
