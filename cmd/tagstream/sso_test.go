package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tagstream/tagstream/internal/oidc"
	"github.com/tagstream/tagstream/internal/oidc/oidctest"
)

// ssoConfig trusts op: its "tagstream-admins" group are admins, everyone
// else it signs in is a user.
func ssoConfig(t *testing.T, op *oidctest.Provider) config {
	cfg := testConfig(t)
	cfg.OIDCIssuer, cfg.OIDCClientID, cfg.OIDCClientSecret = op.Issuer, "tagstream", op.Clients["tagstream"]
	cfg.OIDCRoleClaim, cfg.OIDCRoles, cfg.OIDCDefaultRole = "groups", "tagstream-admins=admin", "user"
	cfg.OIDCSessionMax = 12 * time.Hour
	if err := cfg.validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

const apiRedirect = "http://127.0.0.1:1/cli/callback"

// providerToken signs user in at op as client and returns the provider's
// ID token, as a CLI or script using the provider would hold it.
func providerToken(t *testing.T, op *oidctest.Provider, client, user string) string {
	t.Helper()
	p, err := oidc.Discover(context.Background(), oidc.Config{Issuer: op.Issuer, ClientID: client, ClientSecret: op.Clients[client]})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	verifier := oidc.Random()
	code, _ := op.LoginCode(t, nil, p.AuthCodeURL(apiRedirect, oidc.Random(), oidc.Random(), verifier), apiRedirect, user, oidctest.Password)
	tok, err := p.Exchange(context.Background(), code, verifier, apiRedirect)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// forged signs claims with op's current key (or, for HS256, an HMAC
// secret an attacker could know), starting from a valid token's claims.
func forged(t *testing.T, op *oidctest.Provider, alg jwa.SignatureAlgorithm, over map[string]any) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": op.Issuer, "aud": "tagstream", "sub": oidctest.StaffSubject, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range over {
		claims[k] = v
	}
	tok := jwt.New()
	for k, v := range claims {
		_ = tok.Set(k, v)
	}
	kid, _, priv := op.Key()
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	var key any = priv
	if alg == jwa.HS256 {
		key = []byte("a secret an attacker chose")
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func TestAPIAcceptsTheProvidersTokensAndRefusesBadOnesWithAReason(t *testing.T) {
	op := oidctest.Start(t)
	e := startEnv(t, ssoConfig(t, op), &fakeTagger{})

	admin := e.mustCall("GET", "/api/auth/me", providerToken(t, op, "tagstream", oidctest.AdminLogin), nil, http.StatusOK)
	if admin["email"] != oidctest.AdminEmail || admin["role"] != "admin" {
		t.Fatalf("admin maps to %v", admin)
	}
	staffTok := providerToken(t, op, "tagstream", oidctest.StaffLogin)
	staff := e.mustCall("GET", "/api/auth/me", staffTok, nil, http.StatusOK)
	if staff["email"] != oidctest.StaffEmail || staff["role"] != "user" || staff["id"] == admin["id"] {
		t.Fatalf("staff maps to %v", staff)
	}
	// The provider's user owns what it starts, like any account.
	job := e.startJob(user{id: staff["id"].(string), token: staffTok}, 1, nil)
	if st := e.status(user{token: staffTok}, job); st["job_id"] != job {
		t.Fatalf("own job status: %v", st)
	}

	// Rotation: the old key leaves the provider's JWKS, a new ES256 key signs.
	op.Rotate(true)
	rotated := providerToken(t, op, "tagstream", oidctest.StaffLogin)
	if again := e.mustCall("GET", "/api/auth/me", rotated, nil, http.StatusOK); again["id"] != staff["id"] {
		t.Fatalf("after rotation the same subject is %v, was %v", again["id"], staff["id"])
	}
	e.mustCall("GET", "/api/batch/jobs/"+job+"/status", rotated, nil, http.StatusOK)

	for _, c := range []struct{ name, token, reason string }{
		{"the removed key's token", staffTok, "not among the provider's keys"},
		{"a token for another audience", providerToken(t, op, "other-app", oidctest.StaffLogin), "audience does not include this client"},
		{"an expired token", forged(t, op, jwa.ES256, map[string]any{"iat": time.Now().Add(-3 * time.Hour).Unix(), "exp": time.Now().Add(-2 * time.Hour).Unix()}), "expired"},
		{"a wrong issuer", forged(t, op, jwa.ES256, map[string]any{"iss": "https://login.evil.example"}), "issuer is not accepted"},
		{"HS256", forged(t, op, jwa.HS256, nil), `"HS256" is not accepted`},
		{"none", unsignedJWT(op.Issuer), `"none" is not accepted`},
	} {
		st, body := e.call("GET", "/api/auth/me", c.token, nil)
		if st != http.StatusUnauthorized || body["code"] != "unauthorized" || !strings.Contains(body["detail"].(string), c.reason) {
			t.Errorf("%s: %d %v; want 401 naming %q", c.name, st, body, c.reason)
		}
	}
}

func unsignedJWT(iss string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	return enc(map[string]any{"alg": "none"}) + "." + enc(map[string]any{"iss": iss, "aud": "tagstream", "sub": "id2",
		"exp": time.Now().Add(time.Hour).Unix()}) + "."
}

// TestConsoleSignInOverHTTPKeepsTheClientSecretOut walks the console's
// sign-in as a browser without JavaScript would, then looks for the
// client secret in every answer, the process log and every stream.
func TestConsoleSignInOverHTTPKeepsTheClientSecretOut(t *testing.T) {
	op := oidctest.Start(t)
	var logs syncBuffer
	e := startEnvLogged(t, ssoConfig(t, op), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	secret := op.Clients["tagstream"]
	var answers []string
	get := func(c *http.Client, u string) (int, string) {
		t.Helper()
		res, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		answers = append(answers, res.Header.Get("Location")+"\n"+string(b))
		return res.StatusCode, string(b)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	callback := e.url + "/auth/sso/callback"
	code, state := op.LoginCode(t, jar, e.url+"/auth/sso/start", callback, oidctest.AdminLogin, oidctest.Password)
	back := callback + "?" + url.Values{"code": {code}, "state": {state}}.Encode()
	st, page := get(browser, back)
	m := regexp.MustCompile(`<meta name="tagstream-session" content="([^"]*)">`).FindStringSubmatch(page)
	if st != http.StatusOK || m == nil {
		t.Fatalf("callback: %d %s", st, page)
	}
	var session struct {
		User   map[string]any `json:"user"`
		Tokens map[string]any `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &session); err != nil {
		t.Fatal(err)
	}
	me := e.mustCall("GET", "/api/auth/me", session.Tokens["access_token"].(string), nil, http.StatusOK)
	if me["email"] != oidctest.AdminEmail || me["role"] != "admin" || session.Tokens["refresh_token"] == "" {
		t.Fatalf("session is for %v (tokens %v)", me, session.Tokens)
	}

	// The same answer again: the sign-in cookie is gone, so it is refused.
	if st, page := get(browser, back); st != http.StatusBadRequest || !strings.Contains(page, "not started in this browser") {
		t.Fatalf("replayed callback: %d %s", st, page)
	}
	// The user declines at the provider.
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(e.url + "/auth/sso/start")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc.Query().Get("code_challenge_method") != "S256" || loc.Query().Get("nonce") == "" || loc.Query().Get("code_verifier") != "" {
		t.Fatalf("authorization request: %s", loc)
	}
	denied := callback + "?" + url.Values{"error": {"access_denied"}, "state": {loc.Query().Get("state")}}.Encode()
	if st, page := get(browser, denied); st != http.StatusForbidden || !strings.Contains(page, "did not let you sign in") {
		t.Fatalf("denied: %d %s", st, page)
	}
	// A code the provider does not know (expired, or from elsewhere).
	code, state = op.LoginCode(t, jar, e.url+"/auth/sso/start", callback, oidctest.StaffLogin, oidctest.Password)
	bogus := callback + "?" + url.Values{"code": {code + "x"}, "state": {state}}.Encode()
	if st, page := get(browser, bogus); st != http.StatusUnauthorized || !strings.Contains(page, "refused the code") {
		t.Fatalf("unknown code: %d %s", st, page)
	}

	scan := func(where, text string) {
		t.Helper()
		if frag := secretFragment(text, secret); frag != "" {
			t.Errorf("%s contains %q of the client secret", where, frag)
		}
	}
	for i, a := range answers {
		scan("answer "+string(rune('0'+i)), a)
	}
	scanStreams(t, e.app.conn.JS, scan)
	scan("the process log", logs.String())
}

// TestConsoleSignsInThroughTheProvider: the button on the sign-in form,
// the provider's own login page, and back to the job list as the
// provider's user, whose job (started with a provider token) is listed.
func TestConsoleSignsInThroughTheProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	op := oidctest.Start(t)
	e := startEnv(t, ssoConfig(t, op), &fakeTagger{})
	tok := providerToken(t, op, "tagstream", oidctest.AdminLogin)
	job := e.startJob(user{token: tok}, 1, nil)

	p := newPage(t, 1280, 900)
	p.do("open the console", 20*time.Second,
		chromedp.Navigate(consoleURL(t, e)+"/"),
		chromedp.WaitVisible(chromedp.CSS("#sso-login a")))
	p.do("sign in with the provider", 20*time.Second,
		chromedp.Click(chromedp.CSS("#sso-login a")),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), oidctest.AdminLogin),
		chromedp.SendKeys(chromedp.CSS("#password"), oidctest.Password),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	p.waitFor("back on the job list as the provider's user",
		// Null-safe: the predicate may run while the callback page is being replaced.
		`location.origin === `+jsString(consoleURL(t, e))+` && location.hash === "#/jobs" && document.querySelector("#view-jobs")?.hidden === false && (document.querySelector("#who-email")?.textContent || "").includes(`+jsString(oidctest.AdminEmail)+`)`,
		`location.href + " | " + document.body.innerText.slice(0, 300)`, 20*time.Second)
	p.waitFor("the provider user's job is listed", `(document.querySelector("#view-jobs")?.textContent || "").includes(`+jsString(job)+`)`,
		`(document.querySelector("#view-jobs")?.innerText || "").slice(0, 300)`, 10*time.Second)
	if strings.Contains(eval[string](p, `location.href`), "code=") {
		t.Error("the authorization code stayed in the address bar")
	}
	if probs := p.problems(); len(probs) > 0 {
		t.Errorf("console problems: %v", probs)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
