// Package auth owns Tagstream accounts and credentials: registration and
// login against a NATS KV bucket, short-lived ES256 access tokens, and
// opaque rotating refresh tokens stored only as hashes.
//
// Every error returned by this package is an *apperr.Error, so the HTTP
// layer can map it without inspecting messages; internal failures are
// wrapped with apperr.Wrap and never carry passwords, hashes or tokens.
package auth

import (
	"context"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/tagstream/tagstream/internal/apperr"
)

// Role is the authorisation level of an account.
type Role string

// The roles an account can have. Auditors read everything; admins also
// control everything.
const (
	RoleUser    Role = "user"
	RoleAuditor Role = "auditor"
	RoleAdmin   Role = "admin"
)

// valid reports whether r is one of the known roles, so that a role claim
// we did not issue can never grant anything.
func (r Role) valid() bool {
	return r == RoleUser || r == RoleAuditor || r == RoleAdmin
}

// User is the public view of an account (no hash).
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	FullName  string    `json:"full_name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Tokens is the credential pair handed to a client at login and refresh.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"` // always "bearer"
	ExpiresIn    int    `json:"expires_in"` // lifetime of the access token in seconds
}

// Claims is what a verified access token says about its bearer.
type Claims struct {
	UserID, Email string
	Role          Role
}

// CanReadAll reports whether the bearer may read every user's jobs.
func (c Claims) CanReadAll() bool { return c.Role == RoleAuditor || c.Role == RoleAdmin }

// CanControlAll reports whether the bearer may control every user's jobs.
func (c Claims) CanControlAll() bool { return c.Role == RoleAdmin }

// Config configures a Service. Zero values get the documented defaults.
type Config struct {
	KeyDir       string        // where the signing key lives: DataDir/keys (created 0700, key file 0600)
	Issuer       string        // default "tagstream"
	Audience     string        // default "tagstream-api"
	AccessTTL    time.Duration // default 15m
	RefreshTTL   time.Duration // default 30 days
	Registration string        // RegistrationOpen (default), RegistrationInvite or RegistrationClosed
	Now          func() time.Time
	BcryptCost   int // default bcrypt.DefaultCost; tests may use bcrypt.MinCost
	Replicas     int // copies of the KV buckets: 3 on a 3-node cluster (0 means 1)
	Throttle     ThrottleConfig
	// OIDC, when set, also accepts the provider's tokens and enables the
	// console's single sign-on (federation.go).
	OIDC *Federation
}

// Bucket names are fixed so that every process sharing a NATS account sees
// the same accounts and sessions.
const (
	usersBucket   = "tagstream_users"
	refreshBucket = "tagstream_refresh"
)

// Service implements accounts and tokens. It is safe for concurrent use; all
// shared state lives in NATS KV and in the immutable signing key.
type Service struct {
	cfg       Config
	users     jetstream.KeyValue
	refresh   jetstream.KeyValue
	key       jwk.Key       // private signing key, with kid and alg set
	pubSet    jwk.Set       // public keys accepted by Verify
	dummyHash []byte        // compared against when an email is unknown, to equalise timing
	verified  verifiedCache // access tokens that already passed Verify
	throttle  *throttle
	revokedKV jetstream.KeyValue
	revoke    *revocations
}

// New creates the KV buckets idempotently and loads the signing key from
// cfg.KeyDir, generating it on first start.
func New(ctx context.Context, js jetstream.JetStream, cfg Config) (*Service, error) {
	if js == nil {
		return nil, apperr.Wrap(errNoJetStream, "auth: new")
	}
	cfg = withDefaults(cfg)
	if cfg.KeyDir == "" {
		return nil, apperr.Wrap(errNoKeyDir, "auth: new")
	}
	if !ValidRegistration(cfg.Registration) {
		return nil, apperr.New(apperr.Invalid, "registration mode %q: want open, invite or closed", cfg.Registration)
	}
	if cfg.RefreshTTL < time.Second {
		// JetStream rejects a bucket MaxAge below one second (and the
		// per-key TTL floor), so fail with a clear cause instead.
		return nil, apperr.Wrap(errShortTTL, "auth: new")
	}

	users, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      usersBucket,
		Description: "Tagstream accounts by email hash, plus id.<id> index keys",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, apperr.Wrap(err, "auth: users bucket")
	}
	// The bucket TTL bounds how long any session record can outlive its use;
	// expiry is still checked explicitly because age resets on every write.
	refresh, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      refreshBucket,
		Description: "Tagstream refresh tokens (sha256) and session families",
		History:     1,
		TTL:         cfg.RefreshTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, apperr.Wrap(err, "auth: refresh bucket")
	}

	revokedKV, revoke, err := openRevocations(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			revoke.stop()
		}
	}()

	key, err := loadOrCreateKey(cfg.KeyDir)
	if err != nil {
		return nil, apperr.Wrap(err, "auth: signing key")
	}
	pubSet, err := publicSet(key)
	if err != nil {
		return nil, apperr.Wrap(err, "auth: public key set")
	}

	// A fresh random password keeps the dummy hash from matching anything a
	// caller could send; its cost must equal real hashes' cost for timing.
	dummy, err := bcrypt.GenerateFromPassword([]byte(randomString(18)), cfg.BcryptCost)
	if err != nil {
		return nil, apperr.Wrap(err, "auth: dummy hash")
	}

	started = true
	return &Service{
		cfg:       cfg,
		users:     users,
		refresh:   refresh,
		key:       key,
		pubSet:    pubSet,
		dummyHash: dummy,
		throttle:  newThrottle(cfg.Throttle),
		revokedKV: revokedKV,
		revoke:    revoke,
	}, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Issuer == "" {
		cfg.Issuer = "tagstream"
	}
	if cfg.Audience == "" {
		cfg.Audience = "tagstream-api"
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.Registration == "" {
		cfg.Registration = RegistrationOpen
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	return cfg
}

func (s *Service) now() time.Time { return s.cfg.Now() }
