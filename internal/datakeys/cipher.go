package datakeys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// blobVersion is the first byte of every blob: the format (AES-256-GCM,
// 12-byte random nonce, then ciphertext and tag), so another can follow.
const blobVersion = 1

// ErrBadBlob means a blob is not one this package sealed (wrong format,
// cut short, altered, or sealed under another key or for another event).
var ErrBadBlob = errors.New("datakeys: blob does not open")

// Cipher is AES-256-GCM under one key; it implements events.Cipher.
// It also keys digests (MAC) under a second key derived from the same
// one, so what a digest confirms is shredded with the data.
type Cipher struct {
	aead   cipher.AEAD
	macKey []byte
}

// macInfo separates the digest key from the encryption key (HKDF info).
const macInfo = "tagstream request digest v1"

// NewCipher returns a cipher on a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != 32 {
		return nil, errors.New("datakeys: a key is 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Key(sha256.New, key, nil, macInfo, 32)
	if err != nil {
		return nil, err
	}
	return &Cipher{aead: aead, macKey: macKey}, nil
}

// MAC is HMAC-SHA256 of msg under the key's digest key.
func (c *Cipher) MAC(msg []byte) []byte {
	m := hmac.New(sha256.New, c.macKey)
	m.Write(msg)
	return m.Sum(nil)
}

// Seal encrypts plain, bound to aad.
func (c *Cipher) Seal(plain, aad []byte) []byte {
	n := c.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(plain)+c.aead.Overhead())
	out[0] = blobVersion
	if _, err := rand.Read(out[1:]); err != nil {
		panic("datakeys: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return c.aead.Seal(out, out[1:], plain, aad)
}

// Open parses and decrypts a blob Seal made with the same key and aad.
func (c *Cipher) Open(blob, aad []byte) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(blob) < 1+n+c.aead.Overhead() || blob[0] != blobVersion {
		return nil, ErrBadBlob
	}
	plain, err := c.aead.Open(nil, blob[1:1+n], blob[1+n:], aad)
	if err != nil {
		return nil, ErrBadBlob
	}
	return plain, nil
}
