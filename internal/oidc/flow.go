package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Random returns 32 random bytes as base64url: states, nonces and PKCE
// verifiers (43 characters, within RFC 7636's 43..128).
func Random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// Challenge is the S256 PKCE challenge of a verifier (RFC 7636 4.2).
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthCodeURL is where the browser goes to sign in: the authorization
// endpoint with the code flow, PKCE S256, state and nonce.
func (p *Provider) AuthCodeURL(redirectURI, state, nonce, verifier string) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {p.cfg.ClientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {"openid email profile"},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(p.meta.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	return p.meta.AuthorizationEndpoint + sep + q.Encode()
}

// ExchangeError is the token endpoint's refusal (RFC 6749 5.2), such as
// invalid_grant for a used or expired code.
type ExchangeError struct {
	Code, Description string
}

func (e *ExchangeError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("the provider refused the code: %s (%s)", e.Code, clip(e.Description))
	}
	return "the provider refused the code: " + e.Code
}

// Exchange trades an authorization code for the ID token, authenticating
// as the confidential client. The secret travels only in this request.
func (p *Provider) Exchange(ctx context.Context, code, verifier, redirectURI string) (idToken string, err error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}
	// client_secret_basic is the default of RFC 6749 and OpenID Connect;
	// post is used only for a provider that does not offer basic.
	basic := len(p.meta.TokenAuthMethods) == 0 || slices.Contains(p.meta.TokenAuthMethods, "client_secret_basic")
	if !basic {
		form.Set("client_id", p.cfg.ClientID)
		form.Set("client_secret", p.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.meta.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		// RFC 6749 2.3.1: both parts are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	res, err := p.client.Do(req)
	if err != nil {
		return "", &Unavailable{Err: scrub(err)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", &Unavailable{Err: err}
	}
	var out struct {
		IDToken          string `json:"id_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &out) != nil {
		return "", &Unavailable{Err: fmt.Errorf("token endpoint answered HTTP %d without JSON", res.StatusCode)}
	}
	if out.Error != "" || res.StatusCode != http.StatusOK {
		if out.Error == "" {
			out.Error = fmt.Sprintf("HTTP %d", res.StatusCode)
		}
		return "", &ExchangeError{Code: clip(out.Error), Description: out.ErrorDescription}
	}
	if out.IDToken == "" {
		return "", &ExchangeError{Code: "no_id_token", Description: "the token response has no id_token (is the openid scope allowed?)"}
	}
	return out.IDToken, nil
}

// scrub drops the URL from a transport error: it names only the
// endpoint, but the message should say which step failed, not echo a URL.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s token endpoint: %w", ue.Op, ue.Err)
	}
	return err
}
