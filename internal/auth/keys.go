package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/tagstream/tagstream/internal/apperr"
)

// keyFile is the private signing key as a JWK (it carries kid and alg, which
// a PEM file could not).
const keyFile = "signing-key.jwk.json"

var (
	errNoJetStream = errors.New("jetstream context is nil")
	errNoKeyDir    = errors.New("key directory not configured (Config.KeyDir)")
	errShortTTL    = errors.New("refresh TTL must be at least one second (Config.RefreshTTL)")
)

// loadOrCreateKey returns the signing key stored in dir, creating it on first
// start. Creation publishes the file with a hard link from a fully written
// temp file: unlike rename, link fails when the target exists, so when two
// processes race the loser discards its key and both use the winner's file.
func loadOrCreateKey(dir string) (jwk.Key, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, keyFile)
	key, err := readKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}

	data, err := newKeyJSON()
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".signing-key-*.tmp") // CreateTemp uses 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	// The key must be on disk before it is visible: a crash after the link
	// must not leave an empty key file that blocks every later start.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	syncDir(dir)
	return readKey(path)
}

// readKey loads and checks the private key at path. A key readable by other
// users is refused rather than silently used, as OpenSSH does.
func readKey(path string) (jwk.Key, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %#o; it must not be accessible to group or others (chmod 600)", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: parse key: %w", path, err)
	}
	var raw ecdsa.PrivateKey
	if err := key.Raw(&raw); err != nil {
		return nil, fmt.Errorf("%s: not an ECDSA private key", path)
	}
	if raw.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: key is not on P-256", path)
	}
	if key.KeyID() == "" {
		return nil, fmt.Errorf("%s: key has no kid", path)
	}
	// Pin the algorithm so that the key can only ever sign and verify ES256,
	// whatever the file or a token header says.
	if err := key.Set(jwk.AlgorithmKey, jwa.ES256); err != nil {
		return nil, err
	}
	return key, nil
}

// newKeyJSON generates a P-256 key and serialises it as a private JWK with a
// thumbprint kid, so the kid is stable and identifies the key.
func newKeyJSON() ([]byte, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	if err := jwk.AssignKeyID(key); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.AlgorithmKey, jwa.ES256); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return nil, err
	}
	return json.Marshal(key)
}

// publicSet is the set of keys Verify accepts and JWKS publishes. It holds
// public halves only, so leaking it (or serving it) reveals nothing secret.
func publicSet(priv jwk.Key) (jwk.Set, error) {
	pub, err := priv.PublicKey()
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	return set, nil
}

// syncDir makes the new directory entry durable. Failure only weakens crash
// safety, so it is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// JWKS returns the JSON public key set for /.well-known/jwks.json.
func (s *Service) JWKS() ([]byte, error) {
	b, err := json.Marshal(s.pubSet)
	if err != nil {
		return nil, apperr.Wrap(err, "auth: marshal jwks")
	}
	return b, nil
}
