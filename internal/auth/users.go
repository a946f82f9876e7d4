package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/tagstream/tagstream/internal/apperr"
)

const (
	minPasswordChars = 8
	maxPasswordBytes = 72 // bcrypt ignores (newer versions refuse) anything longer
	maxFullNameChars = 200
	maxEmailBytes    = 254 // RFC 5321 path limit
	userIDPrefix     = "usr_"
)

// userRecord is the stored account. It never leaves the package: the hash
// must not reach a response or a log.
type userRecord struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	FullName     string    `json:"full_name"`
	Role         Role      `json:"role"`
	CreatedAt    time.Time `json:"created_at"`
	PasswordHash []byte    `json:"password_hash"`
	// Issuer and Subject identify an account made by single sign-on
	// (federation.go); such an account has no password.
	Issuer  string `json:"issuer,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Removed marks a federated account an admin deleted: the record stays
	// as a tombstone so the provider's next token cannot recreate it.
	Removed bool `json:"removed,omitempty"`
}

// key is where the record is stored: by email for password accounts, by
// issuer and subject for federated ones.
func (r userRecord) key() string {
	if r.Issuer != "" {
		return extKeyOf(r.Issuer, r.Subject)
	}
	return emailKeyOf(r.Email)
}

func (r userRecord) public() User {
	return User{ID: r.ID, Email: r.Email, FullName: r.FullName, Role: r.Role, CreatedAt: r.CreatedAt}
}

// idIndexRecord maps a user id to the key of its account record.
type idIndexRecord struct {
	EmailKey string `json:"email_key"`
}

// Register creates an account without an invitation (see RegisterInvited).
func (s *Service) Register(ctx context.Context, email, password, fullName string) (User, error) {
	return s.RegisterInvited(ctx, email, password, fullName, "")
}

// register creates an account with role. Two concurrent registrations of
// one email race on a KV Create, so exactly one of them succeeds.
func (s *Service) register(ctx context.Context, email, password, fullName string, role Role) (User, error) {
	email = canonicalEmail(email)
	if err := checkEmail(email); err != nil {
		return User{}, err
	}
	if err := checkPassword(password, email); err != nil {
		return User{}, err
	}
	fullName = strings.TrimSpace(fullName)
	if !utf8.ValidString(fullName) || utf8.RuneCountInString(fullName) > maxFullNameChars {
		return User{}, apperr.Field("full_name", "must be valid text of at most %d characters", maxFullNameChars)
	}
	// A name is shown in lists, audit trails and terminals: no NUL, line
	// breaks or other control characters, no text-direction overrides.
	if strings.IndexFunc(fullName, func(r rune) bool { return unicode.IsControl(r) || DirectionOverride(r) }) >= 0 {
		return User{}, apperr.Field("full_name", "must not contain control or text-direction characters")
	}

	var hash []byte
	var herr error
	err := s.throttle.withBcrypt(ctx, func() {
		hash, herr = bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
	})
	if err == nil {
		err = herr
	}
	if err != nil {
		return User{}, apperr.Wrap(err, "auth: hash password")
	}
	rec := userRecord{
		ID:           userIDPrefix + randomHex(16),
		Email:        email,
		FullName:     fullName,
		Role:         role,
		CreatedAt:    s.now().UTC().Truncate(time.Second),
		PasswordHash: hash,
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return User{}, apperr.Wrap(err, "auth: encode user")
	}

	emailKey := emailKeyOf(email)
	rev, err := s.users.Create(ctx, emailKey, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return User{}, apperr.New(apperr.Conflict, "email already registered")
	}
	if err != nil {
		return User{}, apperr.Wrap(err, "auth: store user")
	}
	idx, _ := json.Marshal(idIndexRecord{EmailKey: emailKey})
	if _, err := s.users.Create(ctx, idKeyOf(rec.ID), idx); err != nil {
		// Without its index the account could log in but never be found by
		// id, so undo it; the revision guard avoids deleting anything newer.
		undo, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = s.users.Delete(undo, emailKey, jetstream.LastRevision(rev))
		cancel()
		return User{}, apperr.Wrap(err, "auth: store user index")
	}
	return rec.public(), nil
}

// Login checks the credentials and opens a new session (refresh token
// family). Unknown email and wrong password are indistinguishable, in the
// message and, by hashing against a dummy, in timing.
func (s *Service) Login(ctx context.Context, email, password string) (User, Tokens, error) {
	email = canonicalEmail(email)
	// Throttling comes before any lookup or hash, so a refused attempt
	// costs almost nothing and tells nothing about the account.
	done, err := s.throttle.admit(ctx, email, s.now())
	if err != nil {
		return User{}, Tokens{}, err
	}
	ok := false
	defer func() { done(ok) }()
	var rec userRecord
	var found bool
	if checkEmail(email) == nil {
		var err error
		rec, found, err = s.userByEmail(ctx, email)
		if err != nil {
			return User{}, Tokens{}, err
		}
	}
	hash := s.dummyHash
	if found {
		hash = rec.PasswordHash
	}
	pw := []byte(password)
	if len(pw) > maxPasswordBytes {
		// Such a password can never have been registered; truncating keeps
		// the bcrypt work (and so the timing) the same as for a real check.
		pw, found = pw[:maxPasswordBytes], false
	}
	var mismatch error
	if err := s.throttle.withBcrypt(ctx, func() { mismatch = bcrypt.CompareHashAndPassword(hash, pw) }); err != nil {
		return User{}, Tokens{}, err
	}
	if mismatch != nil || !found {
		return User{}, Tokens{}, apperr.New(apperr.Unauthorized, "invalid email or password")
	}
	ok = true

	u := rec.public()
	tokens, err := s.startSession(ctx, u)
	if err != nil {
		return User{}, Tokens{}, err
	}
	return u, tokens, nil
}

// User returns the account with the given id, or NotFound.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	rec, found, err := s.userByID(ctx, id)
	if err != nil {
		return User{}, err
	}
	if !found {
		return User{}, apperr.New(apperr.NotFound, "user not found")
	}
	return rec.public(), nil
}

func (s *Service) userByID(ctx context.Context, id string) (userRecord, bool, error) {
	// The id may come from a token or a URL; only well-formed ids may reach
	// KV, where wildcards and dots would change the key's meaning.
	if !validUserID(id) {
		return userRecord{}, false, nil
	}
	entry, err := s.users.Get(ctx, idKeyOf(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return userRecord{}, false, nil
	}
	if err != nil {
		return userRecord{}, false, apperr.Wrap(err, "auth: load user index")
	}
	var idx idIndexRecord
	if err := json.Unmarshal(entry.Value(), &idx); err != nil {
		return userRecord{}, false, apperr.Wrap(err, "auth: decode user index")
	}
	rec, found, err := s.userByKey(ctx, idx.EmailKey)
	if err != nil || !found || rec.ID != id {
		// An index pointing at another account means the account was
		// replaced; treat the id as gone rather than returning someone else.
		return userRecord{}, false, err
	}
	return rec, true, nil
}

func (s *Service) userByEmail(ctx context.Context, email string) (userRecord, bool, error) {
	return s.userByKey(ctx, emailKeyOf(email))
}

func (s *Service) userByKey(ctx context.Context, key string) (userRecord, bool, error) {
	entry, err := s.users.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return userRecord{}, false, nil
	}
	if err != nil {
		return userRecord{}, false, apperr.Wrap(err, "auth: load user")
	}
	var rec userRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return userRecord{}, false, apperr.Wrap(err, "auth: decode user")
	}
	return rec, true, nil
}

// emailKeyOf hashes the address so that the KV key is always valid and the
// bucket's key listing does not expose addresses.
func emailKeyOf(email string) string {
	sum := sha256.Sum256([]byte(email))
	return "email." + hex.EncodeToString(sum[:])
}

func idKeyOf(id string) string { return "id." + id }

func validUserID(id string) bool {
	rest, ok := strings.CutPrefix(id, userIDPrefix)
	if !ok || len(rest) != 32 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil && strings.ToLower(rest) == rest
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b)
}

// randomString returns n random bytes as unpadded base64url.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DirectionOverride reports the characters that reorder the text around
// them (U+202A-U+202E, U+2066-U+2069): in a name they can make a list or a
// log line read as something else. The marks (U+200E, U+200F) stay
// allowed: right-to-left names may need them.
func DirectionOverride(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}
