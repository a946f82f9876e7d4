// Package secrets keeps job API keys outside the event log: encrypted with
// AES-256-GCM under a master key, in a JetStream key-value bucket, and
// deleted when the job ends.
//
// Crash story: the ciphertext is in JetStream, so a restart (or another
// worker process with the same master key) can still read it; the master
// key lives in the data dir (or TAGSTREAM_SECRETS_KEY), never in NATS, so
// the stream and bucket alone reveal nothing.
package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the key-value bucket holding encrypted job keys.
const Bucket = "tagstream_job_secrets"

// ErrNotFound means the job has no stored key (never had, or it ended).
var ErrNotFound = errors.New("secrets: no key stored for this job")

// Store is an encrypted job-key store.
type Store struct {
	kv   jetstream.KeyValue
	aead cipher.AEAD
	// StaleClaim is how old another secret in a slot must be before Claim
	// takes the slot over: a command that stored it and died before its
	// event was appended (a command takes seconds, not minutes).
	StaleClaim time.Duration
}

// Open creates the bucket if needed. masterKey is 32 bytes.
func Open(ctx context.Context, js jetstream.JetStream, replicas int, masterKey []byte) (*Store, error) {
	if len(masterKey) != 32 {
		return nil, errors.New("secrets: master key must be 32 bytes")
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if replicas <= 0 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "encrypted API keys of running jobs", History: 1,
		Storage: jetstream.FileStorage, Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("secrets: bucket: %w", err)
	}
	return &Store{kv: kv, aead: aead, StaleClaim: 2 * time.Minute}, nil
}

// seal encrypts a job's key bound to its id, so a ciphertext cannot be
// moved to another job.
func (s *Store) seal(id, secret string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(id)), nil
}

// Claim stores secret under id for a command about to append the event
// that uses it, unless another command holds the slot: held is false when
// id holds a different secret stored less than StaleClaim ago. Two
// commands racing for one slot (two starts of one job_id, two retries of
// one job) used to store in turn, and the loser's key could overwrite the
// winner's. The same secret already there is held too: the slot is
// shared (an identical request, or this command's next round). A claim is
// not taken back when its command fails: that command cannot tell whether
// another sharing the slot appended; an unused slot goes stale.
func (s *Store) Claim(ctx context.Context, id, secret string) (held bool, err error) {
	sealed, err := s.seal(id, secret)
	if err != nil {
		return false, err
	}
	for range 3 { // Create and Get can each race a purge
		_, err := s.kv.Create(ctx, id, sealed)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return false, err
		}
		e, err := s.kv.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if theirs, err := s.open(id, e.Value()); err == nil && theirs == secret {
			return true, nil
		}
		if time.Since(e.Created()) < s.StaleClaim {
			return false, nil
		}
		_, err = s.kv.Update(ctx, id, sealed, e.Revision())
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return false, err
		}
	}
	return false, nil
}

// Get returns the job's key or ErrNotFound.
func (s *Store) Get(ctx context.Context, jobID string) (string, error) {
	e, err := s.kv.Get(ctx, jobID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return s.open(jobID, e.Value())
}

func (s *Store) open(id string, v []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(v) < n {
		return "", errors.New("secrets: stored value is damaged")
	}
	plain, err := s.aead.Open(nil, v[:n], v[n:], []byte(id))
	if err != nil {
		return "", errors.New("secrets: cannot decrypt (wrong master key?)")
	}
	return string(plain), nil
}

// Lookup is Get for callers that must tell "no key" from "store down".
func (s *Store) Lookup(ctx context.Context, id string) (string, bool, error) {
	secret, err := s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	return secret, err == nil, err
}

// Delete forgets the job's key. Purge (not a delete marker) removes the
// ciphertext from the bucket's storage.
func (s *Store) Delete(ctx context.Context, jobID string) error {
	err := s.kv.Purge(ctx, jobID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// LoadOrCreateKey returns the master key from env (base64) if set, else from
// dir/secrets.key, creating it with mode 0600 on first use.
func LoadOrCreateKey(dir, env string) ([]byte, error) {
	if env != "" {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(env))
		if err != nil || len(k) != 32 {
			return nil, errors.New("secrets: TAGSTREAM_SECRETS_KEY must be 32 bytes in base64")
		}
		return k, nil
	}
	path := filepath.Join(dir, "secrets.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("secrets: %s is damaged", path)
		}
		return k, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".secrets-*.key")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(k)); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	tmp.Close()
	// Link fails if another process won the race; then use its key.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	return LoadOrCreateKey(dir, "")
}
