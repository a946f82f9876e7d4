package web

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/apperr"
)

// ssoRig drives the SSO handler with its two server-side hooks recorded;
// the real provider is exercised end to end in cmd/tagstream.
type ssoRig struct {
	h        http.Handler
	mu       sync.Mutex
	now      time.Time
	finish   error // what Finish answers
	finished []string
}

func newSSORig() *ssoRig {
	r := &ssoRig{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	r.h = HandlerWithSSO(&SSO{
		Begin: func(redirect, state, nonce, verifier string) string {
			return "https://idp.example/authorize?" + url.Values{"redirect_uri": {redirect}, "state": {state}, "nonce": {nonce}}.Encode()
		},
		Finish: func(_ context.Context, code, verifier, redirect, nonce string) (any, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.finished = append(r.finished, code+"|"+verifier+"|"+redirect+"|"+nonce)
			if r.finish != nil {
				return nil, r.finish
			}
			return map[string]any{"user": map[string]any{"email": "sso@example.com"}, "tokens": map[string]any{"access_token": "at"}}, nil
		},
		CookieKey: make([]byte, 32),
		Now:       func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now },
	})
	return r
}

// start begins a sign-in and returns the cookie and the state sent to the
// provider.
func (r *ssoRig) start(t *testing.T) (*http.Cookie, string) {
	t.Helper()
	rec := get(t, r.h, "/auth/sso/start", nil)
	if rec.Code != http.StatusFound {
		t.Fatalf("start: %d %s", rec.Code, rec.Body)
	}
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if got := loc.Query().Get("redirect_uri"); got != "http://console.example:8000/auth/sso/callback" {
		t.Fatalf("redirect_uri = %q", got)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteLaxMode || cookies[0].Path != "/auth/sso" {
		t.Fatalf("state cookie = %+v", cookies)
	}
	if strings.Contains(cookies[0].Value, loc.Query().Get("state")) {
		t.Fatal("the cookie shows the state in clear; it must be sealed")
	}
	return cookies[0], loc.Query().Get("state")
}

func (r *ssoRig) callback(t *testing.T, c *http.Cookie, q url.Values) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/auth/sso/callback?"+q.Encode(), nil)
	req.Host = "console.example:8000"
	if c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("callback headers: %v", rec.Header())
	}
	return rec.Code, rec.Body.String()
}

func TestSSOCallbackOpensTheSessionOfTheStartedSignIn(t *testing.T) {
	r := newSSORig()
	c, state := r.start(t)
	st, body := r.callback(t, c, url.Values{"code": {"the-code"}, "state": {state}})
	if st != http.StatusOK {
		t.Fatalf("callback: %d %s", st, body)
	}
	m := regexp.MustCompile(`<meta name="tagstream-session" content="([^"]*)">`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(html.UnescapeString(m[1]), `"email":"sso@example.com"`) || !strings.Contains(body, "/assets/js/sso.js") {
		t.Fatalf("success page lacks the session for sso.js: %s", body)
	}
	if len(r.finished) != 1 || !strings.HasPrefix(r.finished[0], "the-code|") || !strings.Contains(r.finished[0], "|http://console.example:8000/auth/sso/callback|") {
		t.Fatalf("Finish got %v", r.finished)
	}
}

func TestSSOCallbackRefusalsAreClearPagesNeverA500(t *testing.T) {
	r := newSSORig()
	c, state := r.start(t)
	cases := []struct {
		name   string
		cookie *http.Cookie
		q      url.Values
		later  time.Duration
		finish error
		status int
		says   string
	}{
		{"denied at the provider", c, url.Values{"error": {"access_denied"}, "error_description": {"User <b>declined</b>"}, "state": {state}}, 0, nil, 403, "did not let you sign in"},
		{"provider error", c, url.Values{"error": {"server_error"}, "state": {state}}, 0, nil, 400, "reported an error: server_error"},
		{"state mismatch", c, url.Values{"code": {"x"}, "state": {"forged"}}, 0, nil, 400, "state mismatch"},
		{"no cookie", nil, url.Values{"code": {"x"}, "state": {state}}, 0, nil, 400, "not started in this browser"},
		{"forged cookie", &http.Cookie{Name: ssoCookie, Value: "AAAA" + c.Value[4:]}, url.Values{"code": {"x"}, "state": {state}}, 0, nil, 400, "not started in this browser"},
		{"expired", c, url.Values{"code": {"x"}, "state": {state}}, 11 * time.Minute, nil, 400, "expired"},
		{"no code", c, url.Values{"state": {state}}, 0, nil, 400, "no authorization code"},
		{"token refused", c, url.Values{"code": {"x"}, "state": {state}}, 0, apperr.New(apperr.Unauthorized, "OpenID Connect token rejected: token has expired"), 401, "token has expired"},
		{"no role", c, url.Values{"code": {"x"}, "state": {state}}, 0, apperr.New(apperr.Forbidden, "no Tagstream role"), 403, "no Tagstream role"},
		{"provider down", c, url.Values{"code": {"x"}, "state": {state}}, 0, apperr.New(apperr.Unavailable, "the identity provider cannot be reached"), 503, "cannot be reached"},
		{"code refused", c, url.Values{"code": {"x"}, "state": {state}}, 0, apperr.New(apperr.Unauthorized, "the provider refused the code: invalid_grant"), 401, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.mu.Lock()
			r.finish, r.now = tc.finish, r.now.Add(tc.later)
			r.mu.Unlock()
			defer func() { r.mu.Lock(); r.now = r.now.Add(-tc.later); r.mu.Unlock() }()
			st, body := r.callback(t, tc.cookie, tc.q)
			if st != tc.status || !strings.Contains(html.UnescapeString(body), tc.says) || !strings.Contains(body, "Start the sign-in again") {
				t.Fatalf("got %d %s; want %d saying %q", st, body, tc.status, tc.says)
			}
			if strings.Contains(body, "<b>") {
				t.Fatal("the provider's text reached the page unescaped")
			}
		})
	}
	// The provider's words appear only for this browser's own sign-in.
	st, body := r.callback(t, c, url.Values{"error": {"access_denied"}, "error_description": {"visit evil.example"}, "state": {"forged"}})
	if st != http.StatusForbidden || strings.Contains(body, "evil.example") {
		t.Fatalf("a forged callback put its text on the page: %d %s", st, body)
	}
	// Our own store failing is the one 500, and says nothing of why.
	r.finish = errors.New("kv down")
	if st, body := r.callback(t, c, url.Values{"code": {"x"}, "state": {state}}); st != http.StatusInternalServerError || strings.Contains(body, "kv down") {
		t.Fatalf("an internal failure: %d %s", st, body)
	}
}

func TestSSOEndpointsExistOnlyWhenConfigured(t *testing.T) {
	if rec := get(t, HandlerWithSSO(nil), "/auth/sso", nil); rec.Code != http.StatusOK || rec.Body.String() != `{"enabled":false}` {
		t.Fatalf("without SSO: GET /auth/sso = %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{"/auth/sso/start", "/auth/sso/callback"} {
		if rec := get(t, HandlerWithSSO(nil), p, nil); rec.Code != http.StatusNotFound {
			t.Fatalf("without SSO: GET %s = %d", p, rec.Code)
		}
	}
	if rec := get(t, newSSORig().h, "/auth/sso", nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"enabled":true`) {
		t.Fatalf("with SSO: GET /auth/sso = %d %s", rec.Code, rec.Body)
	}
	if rec := get(t, HandlerWithSSO(nil), "/", nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="sso-login" hidden`) {
		t.Fatalf("the console must hide the SSO button until the server says it is on: %d", rec.Code)
	}
	if rec := get(t, newSSORig().h, "/assets/js/sso.js", nil); rec.Code != http.StatusOK {
		t.Fatalf("sso.js: %d", rec.Code)
	}
}
