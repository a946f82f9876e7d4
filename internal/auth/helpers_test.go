package auth

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/testenv"
)

// startJetStream runs an embedded JetStream server with its store in a temp
// dir and returns a client bound to it; both stop when the test ends.
func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	ns, err := server.NewServer(&server.Options{JetStream: true, StoreDir: t.TempDir(), DontListen: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	t.Cleanup(func() {
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

// newFakeClock is a settable clock for Config.Now.
func newFakeClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

type fixture struct {
	js     jetstream.JetStream
	cfg    Config
	svc    *Service
	clock  *testenv.Clock
	keyDir string
}

// newFixture starts JetStream and a Service with a fake clock, fast bcrypt
// and a fresh key dir; mutate may adjust the config first.
func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	clock := newFakeClock()
	cfg := Config{
		KeyDir:     filepath.Join(t.TempDir(), "keys"),
		Now:        clock.Now,
		BcryptCost: bcrypt.MinCost,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	js := startJetStream(t)
	svc, err := New(context.Background(), js, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(svc.Close)
	return &fixture{js: js, cfg: cfg, svc: svc, clock: clock, keyDir: cfg.KeyDir}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want code %q", code)
	}
	if got := apperr.Code(err); got != code {
		t.Fatalf("got code %q (%v), want %q", got, err, code)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *apperr.Error", err)
	}
}

// mustLogin registers and logs in one account.
func (f *fixture) mustLogin(t *testing.T, email string) (User, Tokens) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.svc.Register(ctx, email, "correct horse", "Test User"); err != nil {
		t.Fatalf("Register(%s): %v", email, err)
	}
	u, tok, err := f.svc.Login(ctx, email, "correct horse")
	if err != nil {
		t.Fatalf("Login(%s): %v", email, err)
	}
	return u, tok
}

func asAppErr(err error, target **apperr.Error) bool { return errors.As(err, target) }
