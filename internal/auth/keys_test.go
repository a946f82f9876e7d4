package auth

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tagstream/tagstream/internal/apperr"
)

func TestKeySurvivesRestart(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	u, tok := f.mustLogin(t, "nina@example.com")

	// A second service over the same KeyDir and JetStream stands for the
	// process after a restart; New must also accept the existing buckets.
	again, err := New(ctx, f.js, f.cfg)
	if err != nil {
		t.Fatalf("second New: %v", err)
	}
	if again.key.KeyID() != f.svc.key.KeyID() {
		t.Fatalf("kid changed across restart")
	}
	c, err := again.Verify(ctx, tok.AccessToken)
	if err != nil || c.UserID != u.ID {
		t.Fatalf("token from before restart: %+v %v", c, err)
	}
	if _, err := again.Refresh(ctx, tok.RefreshToken); err != nil {
		t.Fatalf("refresh after restart: %v", err)
	}

	// A different KeyDir means a different key, and the old token is
	// rejected there: the key is really what makes it valid.
	cfg := f.cfg
	cfg.KeyDir = filepath.Join(t.TempDir(), "other-keys")
	fresh, err := New(ctx, f.js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fresh.Verify(ctx, tok.AccessToken)
	wantCode(t, err, apperr.Unauthorized)
}

func TestKeyFilePermissions(t *testing.T) {
	f := newFixture(t, nil)
	dir, err := os.Stat(f.keyDir)
	if err != nil {
		t.Fatal(err)
	}
	if dir.Mode().Perm() != 0o700 {
		t.Fatalf("key dir mode %#o, want 0700", dir.Mode().Perm())
	}
	file, err := os.Stat(filepath.Join(f.keyDir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if file.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %#o, want 0600", file.Mode().Perm())
	}
	entries, _ := os.ReadDir(f.keyDir)
	if len(entries) != 1 {
		t.Fatalf("key dir holds %d entries, want only the key (temp file left behind?)", len(entries))
	}

	// A key that others can read is refused rather than trusted.
	if err := os.Chmod(filepath.Join(f.keyDir, keyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), f.js, f.cfg)
	wantCode(t, err, apperr.Internal)
}

func TestKeyCreationRace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	const n = 8
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			k, err := loadOrCreateKey(dir)
			errs[i] = err
			if err == nil {
				kids[i] = k.KeyID()
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("loadOrCreateKey: %v", errs[i])
		}
		if kids[i] != kids[0] {
			t.Fatalf("racing creators ended up with different keys: %q vs %q", kids[i], kids[0])
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files in key dir after race, want 1", len(entries))
	}
}

func TestCorruptKeyFileIsAnError(t *testing.T) {
	f := newFixture(t, nil)
	path := filepath.Join(f.keyDir, keyFile)
	// Silently generating a new key would invalidate every session; a
	// broken file must stop startup instead.
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), f.js, f.cfg)
	wantCode(t, err, apperr.Internal)

	pub, _ := f.svc.key.PublicKey()
	b, _ := json.Marshal(pub)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), f.js, f.cfg)
	wantCode(t, err, apperr.Internal)
}

func TestJWKSPublicOnly(t *testing.T) {
	f := newFixture(t, nil)
	b, err := f.svc.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("%d keys, want 1", len(doc.Keys))
	}
	k := doc.Keys[0]
	if _, ok := k["d"]; ok {
		t.Fatalf("JWKS contains the private scalar: %s", b)
	}
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] != f.svc.key.KeyID() {
		t.Fatalf("unexpected key members: %v", k)
	}

	// A third party holding only the JWKS can verify our tokens.
	_, tok := f.mustLogin(t, "olga@example.com")
	set, err := jwk.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse([]byte(tok.AccessToken), jwt.WithKeySet(set), jwt.WithValidate(false)); err != nil {
		t.Fatalf("token does not verify against JWKS: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	_, err := New(ctx, nil, Config{KeyDir: t.TempDir()})
	wantCode(t, err, apperr.Internal)
	_, err = New(ctx, js, Config{})
	wantCode(t, err, apperr.Internal)
	_, err = New(ctx, js, Config{KeyDir: t.TempDir(), RefreshTTL: 1})
	wantCode(t, err, apperr.Internal)
}
