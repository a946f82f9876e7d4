// Package webhook signs and sends thin webhooks the Standard Webhooks way
// (https://www.standardwebhooks.com): headers webhook-id,
// webhook-timestamp and webhook-signature "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>". It is a pure adapter: it knows nothing of jobs or
// the event log, and dials through package fetch's address rules.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every Standard Webhooks secret.
const SecretPrefix = "whsec_"

// Secret is a signing key. Its String and GoString never show the key,
// so it cannot leak through a log line or a %v.
type Secret struct{ key []byte }

// ParseSecret reads "whsec_<base64>" (at least 24 key bytes).
func ParseSecret(s string) (Secret, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, SecretPrefix) {
		return Secret{}, errors.New("webhook secret must start with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	if err != nil {
		return Secret{}, errors.New("webhook secret: the part after " + SecretPrefix + " is not base64")
	}
	if len(key) < 24 {
		return Secret{}, errors.New("webhook secret: the key must be at least 24 bytes")
	}
	return Secret{key: key}, nil
}

// NewSecret returns a random secret in its "whsec_" form.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// IsZero reports whether no key is set.
func (s Secret) IsZero() bool { return len(s.key) == 0 }

func (Secret) String() string   { return "whsec_[redacted]" }
func (Secret) GoString() string { return "whsec_[redacted]" }

// Sign returns the webhook-signature header value for one delivery.
func (s Secret) Sign(id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
