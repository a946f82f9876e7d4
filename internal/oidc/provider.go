// Package oidc is Tagstream's adapter to an OpenID Connect provider: it
// reads the provider's discovery document, keeps its signing keys (JWKS)
// in a refreshing cache, verifies the provider's JWTs with pinned
// algorithms, and runs the server side of the authorization code flow
// with PKCE. It knows nothing of Tagstream accounts: internal/auth maps
// the verified identity to a user and a role.
//
// The client secret is held only in Config and sent only to the token
// endpoint; no error or log line of this package contains it.
package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/tagstream/tagstream/internal/capread"
)

// Config says which provider to trust and as which client.
type Config struct {
	Issuer       string // exactly as the provider writes it in "iss"
	ClientID     string // the audience every accepted token must name
	ClientSecret string // confidential client: used only at the token endpoint
	// HTTPClient reaches the provider; default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Leeway tolerates clock differences with the provider on exp, nbf
	// and iat; default 30 s.
	Leeway time.Duration
	// KeyRefreshGap is the least time between two JWKS fetches caused by
	// tokens naming an unknown key, so garbage kids cannot make us hammer
	// the provider; default 10 s.
	KeyRefreshGap time.Duration
	Now           func() time.Time
}

// maxDocBytes bounds what we read from the provider (discovery document,
// JWKS, token response): real ones are a few KiB.
const maxDocBytes = 1 << 20

// Provider is a discovered OpenID provider. It is safe for concurrent use.
type Provider struct {
	cfg    Config
	meta   metadata
	keys   *jwk.Cache
	stop   context.CancelFunc
	client *http.Client

	refreshMu   sync.Mutex
	lastRefresh time.Time // last refresh forced by an unknown kid
}

// metadata is the part of the discovery document we use.
type metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
}

// Discover fetches ISSUER/.well-known/openid-configuration, checks that it
// names the same issuer, and loads the provider's keys once, so a wrong
// issuer or an unreachable provider is a start-up error, not a surprise
// at the first sign-in.
func Discover(ctx context.Context, cfg Config) (*Provider, error) {
	if err := checkIssuerURL(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, errors.New("oidc: a client id is required (it is the audience of accepted tokens)")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.KeyRefreshGap <= 0 {
		cfg.KeyRefreshGap = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Every response from the provider is read through a size cap.
	client := *cfg.HTTPClient
	client.Transport = limitedTransport{next: transportOf(cfg.HTTPClient)}

	wellKnown := strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration"
	var meta metadata
	if err := getJSON(ctx, &client, wellKnown, &meta); err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s: %w", wellKnown, err)
	}
	// OpenID Connect Discovery 1.0, section 4.3: the document must name
	// the issuer it was fetched for, or tokens could be accepted from a
	// provider impersonating another.
	if meta.Issuer != cfg.Issuer {
		return nil, fmt.Errorf("oidc: discovery document names issuer %q, not TAGSTREAM_OIDC_ISSUER %q", meta.Issuer, cfg.Issuer)
	}
	for name, u := range map[string]string{"jwks_uri": meta.JWKSURI, "authorization_endpoint": meta.AuthorizationEndpoint, "token_endpoint": meta.TokenEndpoint} {
		if err := checkEndpoint(u, cfg.Issuer); err != nil {
			return nil, fmt.Errorf("oidc: discovery document %s: %w", name, err)
		}
	}

	cacheCtx, stop := context.WithCancel(context.Background())
	keys := jwk.NewCache(cacheCtx)
	// The cache refetches on its own (honouring Cache-Control, at least
	// every 15 minutes), which picks up a planned rotation; an unknown kid
	// forces a fetch sooner (see key).
	if err := keys.Register(meta.JWKSURI, jwk.WithHTTPClient(&client), jwk.WithMinRefreshInterval(time.Minute),
		jwk.WithRefreshInterval(15*time.Minute)); err != nil {
		stop()
		return nil, fmt.Errorf("oidc: register jwks: %w", err)
	}
	if _, err := keys.Refresh(ctx, meta.JWKSURI); err != nil {
		stop()
		return nil, fmt.Errorf("oidc: fetch signing keys from %s: %w", meta.JWKSURI, err)
	}
	return &Provider{cfg: cfg, meta: meta, keys: keys, stop: stop, client: &client}, nil
}

// Close stops the background key refresh.
func (p *Provider) Close() { p.stop() }

// Issuer is the trusted issuer.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// ClientID is the audience tokens must name.
func (p *Provider) ClientID() string { return p.cfg.ClientID }

// CanSignIn reports whether the console sign-in (code flow) is possible:
// it needs the client secret.
func (p *Provider) CanSignIn() bool { return p.cfg.ClientSecret != "" }

// checkIssuerURL requires https, except on a loopback host (a provider on
// the same machine, as in tests), where plain http cannot be intercepted.
func checkIssuerURL(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("oidc: issuer %q must be an absolute https URL without query or fragment", issuer)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil
	}
	return fmt.Errorf("oidc: issuer %q must use https (plain http only on a loopback address)", issuer)
}

// checkEndpoint applies the issuer's scheme rule to an endpoint named by
// the discovery document.
func checkEndpoint(raw, issuer string) error {
	if raw == "" {
		return errors.New("missing")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname()) && strings.HasPrefix(issuer, "http:")) {
		return nil
	}
	return fmt.Errorf("%q must use https", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func getJSON(ctx context.Context, c *http.Client, u string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", res.StatusCode)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("not a JSON document: %w", err)
	}
	return nil
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// limitedTransport caps every response body at maxDocBytes: a provider
// (or whoever answers in its name) cannot make us buffer without end.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	res.Body = capread.NewCloser(res.Body, maxDocBytes, errTooLarge)
	return res, nil
}

var errTooLarge = fmt.Errorf("response from the provider exceeds %d bytes", maxDocBytes)
