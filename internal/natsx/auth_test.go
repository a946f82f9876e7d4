package natsx_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/tagstream/tagstream/internal/natsx"
)

// embed starts an embedded server that listens on loopback behind auth,
// with its own authenticated in-process connection, as serve does.
func embed(t *testing.T, auth natsx.Auth) (*natsx.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := natsx.Connect(ctx, natsx.Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Auth: auth, Name: "serve"})
	if err != nil {
		t.Fatalf("embedded server with auth: %v", err)
	}
	t.Cleanup(c.Close)
	// The in-process connection went through the same auth and works.
	if _, err := c.JS.AccountInfo(ctx); err != nil {
		t.Fatalf("in-process JetStream: %v", err)
	}
	return c, c.Server.ClientURL()
}

// dial is a plain client without retries: its error is the server's answer.
func dial(url string, opts ...nats.Option) error {
	nc, err := nats.Connect(url, append(opts, nats.Timeout(5*time.Second))...)
	if err == nil {
		nc.Close()
	}
	return err
}

func TestListeningWithoutCredentialsIsRefused(t *testing.T) {
	_, err := natsx.Connect(context.Background(), natsx.Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if !errors.Is(err, natsx.ErrNoCredentials) || !strings.Contains(err.Error(), "TAGSTREAM_NATS_USER") {
		t.Fatalf("listen without credentials: %v", err)
	}
	if _, err := natsx.StartEmbedded(t.TempDir(), "127.0.0.1:0", natsx.Auth{User: "only-user"}); err == nil {
		t.Fatal("a user without a password was accepted")
	}
	// In-process only (no listen) needs none.
	c, err := natsx.Connect(context.Background(), natsx.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestPasswordAuth(t *testing.T) {
	_, url := embed(t, natsx.Auth{User: "tagstream", Password: "s3cret-pass"})
	if err := dial(url); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous client: %v, want an authorization violation", err)
	}
	if err := dial(url, nats.UserInfo("tagstream", "wrong")); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("wrong password: %v, want an authorization violation", err)
	}
	if err := dial(url, nats.UserInfo("tagstream", "s3cret-pass")); err != nil {
		t.Fatalf("right password: %v", err)
	}
	// natsx clients (worker, operator commands) present the same settings.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := natsx.Connect(ctx, natsx.Config{URL: url, Auth: natsx.Auth{User: "tagstream", Password: "s3cret-pass"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.JS.AccountInfo(ctx); err != nil {
		t.Fatal(err)
	}
	// A natsx client with the wrong password fails with the reason, well
	// before the one-minute wait for JetStream.
	_, err = natsx.Connect(ctx, natsx.Config{URL: url, Auth: natsx.Auth{User: "tagstream", Password: "wrong"}})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("natsx client with a wrong password: %v", err)
	}
}

func TestNkeySeedAuth(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	path := filepath.Join(t.TempDir(), "worker.nk")
	if err := os.WriteFile(path, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	_, url := embed(t, natsx.Auth{CredsFile: path})
	if err := dial(url); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous client: %v", err)
	}
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	otherPath := filepath.Join(t.TempDir(), "other.nk")
	_ = os.WriteFile(otherPath, otherSeed, 0o600)
	opt, _ := nats.NkeyOptionFromSeed(otherPath)
	if err := dial(url, opt); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("another key: %v", err)
	}
	opt, _ = nats.NkeyOptionFromSeed(path)
	if err := dial(url, opt); err != nil {
		t.Fatalf("the configured key: %v", err)
	}
}
