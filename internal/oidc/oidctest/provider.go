// Package oidctest runs a real OpenID Connect provider in the test
// process: zitadel/oidc's op package (the library behind ZITADEL) with the
// in-memory storage and login page that ship in its module as the example
// server. Tests get discovery, JWKS, the authorization endpoint with a
// login form, PKCE and the token endpoint exactly as the library serves
// them. This package only adds what the example lacks: signing keys the
// test can rotate, a groups claim for role mapping, an organisations claim
// the test sets per user, the user's email in the ID token, and redirect
// URIs on any loopback port.
//
// Only tests import it.
package oidctest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The accounts of the example storage (storage.NewUserStore), with the
// groups this package gives them.
const (
	Password = "verysecure"
	// AdminSubject is in group "tagstream-admins".
	AdminSubject = "id1"
	AdminEmail   = "test-user@zitadel.ch"
	// StaffSubject is in group "staff".
	StaffSubject = "id2"
	StaffEmail   = "test-user2@zitadel.ch"
	StaffLogin   = "test-user2"
)

// AdminLogin is the admin's user name at a provider on 127.0.0.1.
const AdminLogin = "test-user@127.0.0.1"

// groups is the "groups" claim of each subject.
var groups = map[string][]string{AdminSubject: {"tagstream-admins", "staff"}, StaffSubject: {"staff"}}

// OrgsClaim is the claim SetOrgs fills (absent until set).
const OrgsClaim = "tagstream_orgs"

// Provider is a running provider.
type Provider struct {
	Issuer string
	// Clients registered at start: id -> secret.
	Clients map[string]string
	store   *keyedStorage
}

// Start runs a provider on 127.0.0.1 with confidential (web) clients
// "tagstream" and "other-app"; both accept any loopback redirect URI.
func Start(t testing.TB) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	// Secrets share no 8-character run with anything else a test may scan.
	secrets := map[string]string{"tagstream": "cs-Vq7Lm2Zp9Xw4Kd8Rb3", "other-app": "cs-Hy6Tn1Gc5Ju0Fe7Wq2"}
	clients := map[string]*storage.Client{}
	for id, secret := range secrets {
		clients[id] = storage.WebClient(id, secret, "http://127.0.0.1/never-used")
	}
	ks := &keyedStorage{Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer), clients)}
	ks.Rotate(false)
	// A nil logger keeps the example from replacing the process's slog default.
	router := exampleop.SetupServer(issuer, ks, nil, false)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: router}}
	srv.Start()
	t.Cleanup(srv.Close)
	return &Provider{Issuer: issuer, Clients: secrets, store: ks}
}

// SetOrgs sets the OrgsClaim of subject's tokens from now on (none: the
// claim is left out).
func (p *Provider) SetOrgs(subject string, values ...string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	if p.store.orgs == nil {
		p.store.orgs = map[string][]string{}
	}
	p.store.orgs[subject] = values
}

// SetEmailUnverified makes subject's tokens say "email_verified": false
// from now on, as a provider does for an address it has not confirmed.
func (p *Provider) SetEmailUnverified(subject string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	if p.store.unverified == nil {
		p.store.unverified = map[string]bool{}
	}
	p.store.unverified[subject] = true
}

// Rotate replaces the signing key: the old key leaves the JWKS at once and
// the new one signs everything from now on. ec chooses ES256 over RS256.
func (p *Provider) Rotate(ec bool) (kid string) { return p.store.Rotate(ec) }

// Key is the current signing key, for tests that forge tokens with the
// provider's real key (other issuer, expired and so on).
func (p *Provider) Key() (kid string, alg jose.SignatureAlgorithm, private any) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	k := p.store.key
	return k.id, k.alg, k.private
}

// LoginCode signs in at the provider as user (through its login form, as
// a browser would) following authURL, and returns the code and state the
// provider sends to redirectURI. jar (nil: a fresh one) keeps the cookies,
// so a test can go on to call redirectURI as the same browser.
func (p *Provider) LoginCode(t testing.TB, jar http.CookieJar, authURL, redirectURI, user, password string) (code, state string) {
	t.Helper()
	if jar == nil {
		jar, _ = cookiejar.New(nil)
	}
	var final *url.URL
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			final = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("authorize: no login form (HTTP %d): %.300s", res.StatusCode, body)
	}
	res, err = c.PostForm(p.Issuer+"/login/username", url.Values{"id": {string(m[1])}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if final == nil {
		t.Fatalf("login did not redirect to %s (HTTP %d): %.300s", redirectURI, res.StatusCode, body)
	}
	return final.Query().Get("code"), final.Query().Get("state")
}

// keyedStorage is the example storage with a key the test can rotate, a
// groups claim, and clients that put userinfo claims in the ID token and
// accept any loopback redirect.
type keyedStorage struct {
	*storage.Storage
	mu   sync.Mutex
	key  signingKey
	orgs map[string][]string // OrgsClaim by subject
	// unverified subjects' tokens say email_verified false
	unverified map[string]bool
}

type signingKey struct {
	id      string
	alg     jose.SignatureAlgorithm
	private any
	public  any
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.private }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k signingKey }

func (p *publicKey) ID() string                         { return p.k.id }
func (p *publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p *publicKey) Use() string                        { return "sig" }
func (p *publicKey) Key() any                           { return p.k.public }
func (s *keyedStorage) snapshot() signingKey            { s.mu.Lock(); defer s.mu.Unlock(); return s.key }
func (s *keyedStorage) SigningKey(context.Context) (op.SigningKey, error) {
	k := s.snapshot()
	return &k, nil
}

func (s *keyedStorage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{&publicKey{k: s.snapshot()}}, nil
}

func (s *keyedStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{s.snapshot().alg}, nil
}

func (s *keyedStorage) Rotate(ec bool) string {
	var k signingKey
	if ec {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		k = signingKey{alg: jose.ES256, private: priv, public: &priv.PublicKey}
	} else {
		priv, _ := rsa.GenerateKey(rand.Reader, 2048)
		k = signingKey{alg: jose.RS256, private: priv, public: &priv.PublicKey}
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	k.id = fmt.Sprintf("key-%x", b)
	s.mu.Lock()
	s.key = k
	s.mu.Unlock()
	return k.id
}

// SetUserinfoFromRequest adds the groups and organisations claims to the
// ID token.
func (s *keyedStorage) SetUserinfoFromRequest(ctx context.Context, info *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	info.AppendClaims("groups", groups[req.GetSubject()])
	s.mu.Lock()
	orgs, unverified := s.orgs[req.GetSubject()], s.unverified[req.GetSubject()]
	s.mu.Unlock()
	if len(orgs) > 0 {
		info.AppendClaims(OrgsClaim, orgs)
	}
	if unverified {
		info.EmailVerified = false
		info.AppendClaims("email_verified", false)
	}
	return nil
}

func (s *keyedStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return loopbackClient{c}, nil
}

// loopbackClient puts email and profile claims in the ID token (the
// example leaves them to the userinfo endpoint) and accepts any redirect
// URI on 127.0.0.1, since test servers listen on random ports.
type loopbackClient struct{ op.Client }

func (loopbackClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (loopbackClient) RedirectURIGlobs() []string           { return []string{"http://127.0.0.1:*/**"} }
func (loopbackClient) PostLogoutRedirectURIGlobs() []string { return nil }
