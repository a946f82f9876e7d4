package datakeys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// blobVersion is the first byte of every blob: the format (AES-256-GCM,
// 12-byte random nonce, then ciphertext and tag), so another can follow.
const blobVersion = 1

// ErrBadBlob means a blob is not one this package sealed (wrong format,
// cut short, altered, or sealed under another key or for another event).
var ErrBadBlob = errors.New("datakeys: blob does not open")

// Cipher is AES-256-GCM under one key; it implements events.Cipher.
type Cipher struct{ aead cipher.AEAD }

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
	return &Cipher{aead: aead}, nil
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
