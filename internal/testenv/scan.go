package testenv

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FilesContaining returns, for each word found, the files under dir (paths
// relative to it) whose bytes hold it, ASCII letters in any case: what an erasure
// test scans a data dir with (JetStream store files, read database, WAL).
func FilesContaining(t testing.TB, dir string, words ...string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // a socket (serve's operator.sock), a pipe: no stored bytes
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking (a WAL, a temp file)
		}
		if err != nil {
			return err
		}
		b = asciiLower(b)
		for _, w := range words {
			if bytes.Contains(b, asciiLower([]byte(w))) {
				rel, _ := filepath.Rel(dir, p)
				found[w] = append(found[w], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// asciiLower maps A-Z to a-z byte by byte. bytes.ToLower would decode
// UTF-8 and turn invalid bytes into U+FFFD, so a binary needle (a wrapped
// key) could match in one place and not in a file where the bytes before
// it happen to complete a rune.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
