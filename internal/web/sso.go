package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tagstream/tagstream/internal/apperr"
)

// SSO is the console's sign-in through an OpenID Connect provider
// (authorization code flow with PKCE). The web package only carries the
// browser's side: it keeps state, nonce and PKCE verifier in a sealed
// cookie and hands the code to Finish, which runs on the server with the
// client secret; the secret never reaches this package or the browser.
type SSO struct {
	// Begin returns the provider's authorization URL for these values.
	Begin func(redirectURI, state, nonce, verifier string) string
	// Finish trades the code for a Tagstream session, returned as the JSON
	// value of a password login ({user, tokens}).
	Finish func(ctx context.Context, code, verifier, redirectURI, nonce string) (session any, err error)
	// CookieKey (32 bytes) seals the sign-in cookie, so a browser can
	// neither read the verifier nor forge a state.
	CookieKey []byte
	// RedirectURL is the callback registered at the provider; empty: this
	// server's /auth/sso/callback as the browser reached it.
	RedirectURL string
	// Now is the clock of the sign-in's 10-minute limit; nil: time.Now.
	Now func() time.Time
}

const (
	ssoPrefix   = "/auth/sso"
	ssoCallback = ssoPrefix + "/callback"
	ssoCookie   = "tagstream_sso"
	// ssoTTL bounds a sign-in from the click to the callback.
	ssoTTL = 10 * time.Minute
)

// HandlerWithSSO is Handler plus GET /auth/sso, which tells the console
// whether to show its single sign-on button ({"enabled": bool}), and,
// with sso set, /auth/sso/start and /auth/sso/callback.
func HandlerWithSSO(sso *SSO) http.Handler {
	ui := Handler()
	if sso == nil {
		mux := http.NewServeMux()
		mux.HandleFunc("GET "+ssoPrefix, func(w http.ResponseWriter, r *http.Request) { ssoStatus(w, r, false) })
		mux.Handle("/", ui)
		return mux
	}
	block, err := aes.NewCipher(sso.CookieKey)
	if err != nil {
		panic("web: SSO cookie key must be 32 bytes") // wiring error, caught by every test of serve
	}
	aead, _ := cipher.NewGCM(block)
	cp := *sso
	if cp.Now == nil {
		cp.Now = time.Now
	}
	s := &ssoHandler{sso: &cp, aead: aead}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+ssoPrefix, s.enabled)
	mux.HandleFunc("GET "+ssoPrefix+"/start", s.start)
	mux.HandleFunc("GET "+ssoCallback, s.callback)
	mux.Handle("/", ui)
	return mux
}

type ssoHandler struct {
	sso  *SSO
	aead cipher.AEAD
}

// ssoState is what the cookie carries between start and callback.
type ssoState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Redirect string `json:"r"`
	Expires  int64  `json:"e"`
}

func (s *ssoHandler) enabled(w http.ResponseWriter, r *http.Request) { ssoStatus(w, r, true) }

func ssoStatus(w http.ResponseWriter, r *http.Request, on bool) {
	setSecurityHeaders(w.Header(), r.Host)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	// Explicit: a router's not-found fallback (gin's NoRoute, which serves
	// the console) has already set 404 as the status to write.
	w.WriteHeader(http.StatusOK)
	if on {
		_, _ = w.Write([]byte(`{"enabled":true,"start":"` + ssoPrefix + `/start"}`))
		return
	}
	_, _ = w.Write([]byte(`{"enabled":false}`))
}

func (s *ssoHandler) start(w http.ResponseWriter, r *http.Request) {
	redirect := s.sso.RedirectURL
	if redirect == "" {
		if !validHost(r.Host) {
			s.page(w, r, http.StatusBadRequest, "The request has no usable Host header, so the sign-in cannot say where to come back to.", nil)
			return
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		redirect = scheme + "://" + r.Host + ssoCallback
	}
	st := ssoState{State: random(), Nonce: random(), Verifier: random(), Redirect: redirect,
		Expires: s.sso.Now().Add(ssoTTL).Unix()}
	plain, _ := json.Marshal(st)
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := s.aead.Seal(nonce, nonce, plain, []byte(ssoCookie))
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: base64.RawURLEncoding.EncodeToString(sealed),
		Path: ssoPrefix, MaxAge: int(ssoTTL / time.Second), HttpOnly: true,
		// Lax: the cookie must ride along the top-level redirect back
		// from the provider, which Strict would drop.
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(redirect, "https:")})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.sso.Begin(redirect, st.State, st.Nonce, st.Verifier), http.StatusFound)
}

// restart is the way out of every failed sign-in.
const restart = "Start the sign-in again."

func (s *ssoHandler) callback(w http.ResponseWriter, r *http.Request) {
	// The cookie is single-use whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: "", Path: ssoPrefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	st, ok := s.open(r)
	if code := q.Get("error"); code != "" {
		status, msg := http.StatusBadRequest, "The sign-in was refused or interrupted."
		if code == "access_denied" {
			status, msg = http.StatusForbidden, "The identity provider did not let you sign in (access denied)."
		}
		// The provider's own words only when the answer belongs to this
		// browser's sign-in: anyone can craft a callback URL, and it
		// should not put their text on our page. Escaped and clipped.
		if ok && q.Get("state") == st.State {
			if code != "access_denied" {
				msg = "The identity provider reported an error: " + clip(code) + "."
			}
			if d := q.Get("error_description"); d != "" {
				msg += " It said: " + clip(d)
			}
		}
		s.page(w, r, status, msg+" "+restart, nil)
		return
	}
	switch {
	case !ok:
		s.page(w, r, http.StatusBadRequest, "This sign-in was not started in this browser, or its cookie was lost. "+restart, nil)
		return
	case s.sso.Now().Unix() > st.Expires:
		s.page(w, r, http.StatusBadRequest, "The sign-in took longer than 10 minutes and has expired. "+restart, nil)
		return
	case q.Get("state") != st.State:
		s.page(w, r, http.StatusBadRequest, "The answer from the identity provider does not belong to the sign-in this browser started (state mismatch). "+restart, nil)
		return
	case q.Get("code") == "":
		s.page(w, r, http.StatusBadRequest, "The identity provider sent no authorization code. "+restart, nil)
		return
	}
	session, err := s.sso.Finish(r.Context(), q.Get("code"), st.Verifier, st.Redirect, st.Nonce)
	if err != nil {
		status := map[string]int{apperr.Unauthorized: http.StatusUnauthorized, apperr.Forbidden: http.StatusForbidden,
			apperr.NotFound: http.StatusNotFound, apperr.Unavailable: http.StatusServiceUnavailable,
			apperr.Conflict: http.StatusConflict}[apperr.Code(err)]
		if status == 0 {
			status = http.StatusInternalServerError // our own store failed; apperr.Message hides the detail
		}
		s.page(w, r, status, "Sign-in failed: "+apperr.Message(err)+". "+restart, nil)
		return
	}
	b, err := json.Marshal(session)
	if err != nil {
		s.page(w, r, http.StatusInternalServerError, "Sign-in failed: internal error. "+restart, nil)
		return
	}
	s.page(w, r, http.StatusOK, "", b)
}

// open reads and checks the sealed cookie.
func (s *ssoHandler) open(r *http.Request) (ssoState, bool) {
	c, err := r.Cookie(ssoCookie)
	if err != nil {
		return ssoState{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	n := s.aead.NonceSize()
	if err != nil || len(raw) < n {
		return ssoState{}, false
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(ssoCookie))
	var st ssoState
	if err != nil || json.Unmarshal(plain, &st) != nil || st.State == "" {
		return ssoState{}, false
	}
	return st, true
}

// ssoPage is the callback's answer. On success it carries the session in
// a meta tag for sso.js, which stores it as a password login would and
// opens the job list; inline script is forbidden by the CSP.
var ssoPage = template.Must(template.New("sso").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Session}}Signing in{{else}}Sign-in failed{{end}} · Tagstream</title>
<link rel="stylesheet" href="/assets/app.css">
{{if .Session}}<meta name="tagstream-session" content="{{.Session}}">
<script type="module" src="/assets/js/sso.js"></script>{{end}}
</head><body><main id="main" class="view">
{{if .Session}}<p>Signing in…</p>{{else}}<h1>Sign-in failed</h1>
<p id="sso-error" class="alert" role="alert">{{.Message}}</p>
<p><a href="/#/login">Back to sign in</a></p>{{end}}
</main></body></html>
`))

func (s *ssoHandler) page(w http.ResponseWriter, r *http.Request, status int, msg string, session []byte) {
	h := w.Header()
	setSecurityHeaders(h, r.Host)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // the success page holds tokens
	w.WriteHeader(status)
	_ = ssoPage.Execute(w, struct {
		Message string
		Session string
	}{msg, string(session)})
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clip bounds text the provider (or whoever forged the callback URL)
// chose, keeping it valid UTF-8.
func clip(s string) string {
	const n = 200
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}
