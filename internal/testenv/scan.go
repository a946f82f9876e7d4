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
// relative to it) whose bytes hold it in any letter case: what an erasure
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
		b = bytes.ToLower(b)
		for _, w := range words {
			if bytes.Contains(b, bytes.ToLower([]byte(w))) {
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
