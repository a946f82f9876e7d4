package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/services"
)

// accountsAuth registers anyone and takes the bearer token as the user id,
// so one test can act as many accounts.
type accountsAuth struct {
	Authenticator
	registered atomic.Int64
}

func (a *accountsAuth) Register(_ context.Context, email, _, _ string) (auth.User, error) {
	a.registered.Add(1)
	return auth.User{ID: email, Email: email}, nil
}

func (a *accountsAuth) Verify(_ context.Context, token string) (auth.Claims, error) {
	return auth.Claims{UserID: token, Email: token + "@example.com", Role: auth.RoleUser}, nil
}

type okStarter struct{}

func (okStarter) Handle(_ context.Context, cmd services.StartJob) (services.StartResult, error) {
	return services.StartResult{JobID: "j", Total: len(cmd.Documents)}, nil
}

func callFrom(h http.Handler, addr, method, path, token, body string, hdr ...string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = addr
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	h.ServeHTTP(rec, req)
	return rec
}

func want429PerAddress(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	var body map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" ||
		body["code"] != "rate_limited" || !strings.Contains(body["detail"], "per client address") {
		t.Fatalf("%s: %d Retry-After=%q %v, want 429 per client address", what, rec.Code, rec.Header().Get("Retry-After"), body)
	}
}

// TestRegistrationThrottledPerClientAddress registers accounts in a loop
// from one address: after the burst the address gets 429 with
// Retry-After, a forged X-Forwarded-For does not help, and another
// address is not affected.
func TestRegistrationThrottledPerClientAddress(t *testing.T) {
	a := &accountsAuth{}
	h := New(Deps{Auth: a, RegisterRate: 5, Log: slog.New(slog.DiscardHandler)})
	reg := func(addr string, i int, hdr ...string) *httptest.ResponseRecorder {
		return callFrom(h, addr, "POST", "/api/auth/register", "",
			fmt.Sprintf(`{"email":"user%d@example.com","password":"a long passphrase","full_name":"U"}`, i), hdr...)
	}
	for i := range 5 {
		if rec := reg("203.0.113.7:40000", i); rec.Code != http.StatusCreated {
			t.Fatalf("registration %d within the burst: %d %s", i, rec.Code, rec.Body)
		}
	}
	for i := 5; i < 50; i++ {
		want429PerAddress(t, fmt.Sprintf("registration %d", i), reg("203.0.113.7:40001", i))
	}
	want429PerAddress(t, "with a forged X-Forwarded-For", reg("203.0.113.7:40002", 99, "X-Forwarded-For", "198.51.100.9"))
	if rec := reg("198.51.100.20:40000", 100); rec.Code != http.StatusCreated {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}
	if n := a.registered.Load(); n != 6 {
		t.Fatalf("%d accounts created, want 6", n)
	}
}

// TestStartsLimitedPerClientAddressAcrossAccounts: many accounts from one
// address share the address's start budget, on top of each user's own.
func TestStartsLimitedPerClientAddressAcrossAccounts(t *testing.T) {
	h := New(Deps{Auth: &accountsAuth{}, Start: okStarter{}, Freshness: freshness{}, StartRate: 60, AddrStartRate: 4,
		Log: slog.New(slog.DiscardHandler)})
	start := func(addr, user string) *httptest.ResponseRecorder {
		return callFrom(h, addr, "POST", "/api/batch/start", user, `{"documents":[{"file_path":"https://example.org/a.pdf"}]}`)
	}
	for i := range 4 { // four accounts, one start each: within the address's burst
		if rec := start("203.0.113.8:1000", fmt.Sprintf("acct%d", i)); rec.Code != http.StatusOK {
			t.Fatalf("start %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	want429PerAddress(t, "a fifth account from the same address", start("203.0.113.8:1001", "acct4"))
	if rec := start("198.51.100.30:1000", "acct4"); rec.Code != http.StatusOK {
		t.Fatalf("the same account from another address: %d %s", rec.Code, rec.Body)
	}
}
