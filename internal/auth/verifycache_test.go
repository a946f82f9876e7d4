package auth

import (
	"context"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/apperr"
)

// TestVerifyCacheGivesTheSameAnswers: a cached access token is accepted
// with the same claims, stops being accepted at its expiry (plus skew) like
// an uncached one, and a tampered copy never hits the cache.
func TestVerifyCacheGivesTheSameAnswers(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	u, tok := f.mustLogin(t, "cache@example.com")
	first, err := f.svc.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.svc.Verify(ctx, tok.AccessToken)
	if err != nil || second != first || second.UserID != u.ID {
		t.Fatalf("cached verify = %+v, %v; first %+v", second, err, first)
	}
	if _, ok := f.svc.verified.get(tok.AccessToken, f.clock.Now()); !ok {
		t.Fatal("a verified token was not cached")
	}
	tampered := tok.AccessToken[:len(tok.AccessToken)-2] + "AA"
	_, err = f.svc.Verify(ctx, tampered)
	wantCode(t, err, apperr.Unauthorized)

	// A clock stepped back before the verification re-verifies.
	f.clock.Advance(-time.Hour)
	if _, ok := f.svc.verified.get(tok.AccessToken, f.clock.Now()); ok {
		t.Fatal("cache hit for a clock before the verification")
	}
	f.clock.Advance(time.Hour)
	if _, err := f.svc.Verify(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(15*time.Minute + 31*time.Second)
	_, err = f.svc.Verify(ctx, tok.AccessToken)
	wantCode(t, err, apperr.Unauthorized)
}
