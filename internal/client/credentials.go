package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Credentials is what `tagstream login` stores for later commands.
type Credentials struct {
	Server       string    `json:"server"`
	Email        string    `json:"email,omitempty"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	SavedAt      time.Time `json:"saved_at"`
}

// CredentialsPath is TAGSTREAM_CREDENTIALS when set, else
// $XDG_CONFIG_HOME/tagstream/credentials.json (~/.config when unset).
func CredentialsPath() (string, error) {
	if p := os.Getenv("TAGSTREAM_CREDENTIALS"); p != "" {
		return p, nil
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory for the credentials file; set TAGSTREAM_CREDENTIALS: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "tagstream", "credentials.json"), nil
}

// LoadCredentials reads the file at path; a missing file gives
// fs.ErrNotExist (wrapped) so callers can say "log in first".
func LoadCredentials(path string) (Credentials, error) {
	var c Credentials
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("credentials file %s is damaged (%v); log in again", path, err)
	}
	return c, nil
}

// SaveCredentials writes c to path with mode 0600 (directory 0700). It
// writes a temporary file next to it and renames it into place, so a crash
// or a concurrent command never sees half a file: losing a rotated refresh
// token would log the user out.
func SaveCredentials(path string, c Credentials) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	c.SavedAt = time.Now().UTC()
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".credentials-*.tmp") // CreateTemp uses mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// RemoveCredentials deletes the file; a missing file is not an error.
func RemoveCredentials(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
