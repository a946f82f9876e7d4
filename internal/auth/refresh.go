package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagstream/tagstream/internal/apperr"
)

// Refresh tokens are opaque: a prefix that makes them recognisable in a
// leaked log or by secret scanners, then 32 random bytes.
const (
	refreshPrefix   = "rt_"
	refreshRawBytes = 32
	// reuseGrace is how long after a rotation a replay of the old token is
	// taken for a client's own concurrent or retried request rather than
	// theft. Such a replay is still refused, but does not revoke the family;
	// otherwise the losers of a double submit would kill the winner's new
	// session.
	reuseGrace = 10 * time.Second
)

// refreshRecord is stored under tok.<sha256 of the token>. A used token is
// kept (not deleted) until it ages out, so that presenting it again is
// recognised as reuse of a stolen token rather than as an unknown token.
type refreshRecord struct {
	UserID    string    `json:"user_id"`
	Family    string    `json:"family"`
	ExpiresAt time.Time `json:"expires_at"`
	Used      bool      `json:"used,omitempty"`
	UsedAt    time.Time `json:"used_at,omitzero"`
}

// familyRecord is stored under fam.<family id> while the session (the chain
// of rotated tokens started by one login) is alive. Deleting it revokes every
// token of the chain at once.
type familyRecord struct {
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
	// Until, when set, ends the session however often it is refreshed: a
	// single sign-on session must come back to the provider, which may have
	// removed the user or changed their groups since.
	Until time.Time `json:"until,omitzero"`
}

func errBadRefresh() error {
	return apperr.New(apperr.Unauthorized, "invalid or expired refresh token")
}

// startSession opens a new token family for u and issues its first pair.
func (s *Service) startSession(ctx context.Context, u User) (Tokens, error) {
	return s.startSessionUntil(ctx, u, time.Time{})
}

// startSessionUntil is startSession with an absolute end (zero: none).
func (s *Service) startSessionUntil(ctx context.Context, u User, until time.Time) (Tokens, error) {
	now := s.now()
	family := randomHex(16)
	fam, _ := json.Marshal(familyRecord{UserID: u.ID, ExpiresAt: now.Add(s.cfg.RefreshTTL), Until: until})
	if _, err := s.refresh.Create(ctx, familyKeyOf(family), fam); err != nil {
		return Tokens{}, apperr.Wrap(err, "auth: store session")
	}
	return s.issuePair(ctx, u, family, now)
}

// issuePair stores a new refresh token in family and signs an access token.
func (s *Service) issuePair(ctx context.Context, u User, family string, now time.Time) (Tokens, error) {
	refresh := refreshPrefix + randomString(refreshRawBytes)
	rec, _ := json.Marshal(refreshRecord{UserID: u.ID, Family: family, ExpiresAt: now.Add(s.cfg.RefreshTTL)})
	if _, err := s.refresh.Create(ctx, tokenKeyOf(refresh), rec); err != nil {
		return Tokens{}, apperr.Wrap(err, "auth: store refresh token")
	}
	access, err := s.issueAccess(u, family, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{
		AccessToken:  access,
		RefreshToken: refresh,
		TokenType:    "bearer",
		ExpiresIn:    int(s.cfg.AccessTTL / time.Second),
	}, nil
}

// Refresh exchanges a refresh token for a new pair and retires the old one.
// Retiring is a revision-checked update, so of any number of concurrent
// calls with one token exactly one succeeds. Presenting a retired token
// again (after a short grace period) revokes its whole family: either the
// client or an attacker holds a copy, and we cannot tell which.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	if !validRefreshFormat(refreshToken) {
		return Tokens{}, errBadRefresh()
	}
	key := tokenKeyOf(refreshToken)
	entry, err := s.refresh.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Tokens{}, errBadRefresh()
	}
	if err != nil {
		return Tokens{}, apperr.Wrap(err, "auth: load refresh token")
	}
	var rec refreshRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return Tokens{}, apperr.Wrap(err, "auth: decode refresh token")
	}
	now := s.now()
	if rec.Used {
		if now.Sub(rec.UsedAt) >= reuseGrace {
			if err := s.revokeFamily(ctx, rec.Family); err != nil {
				return Tokens{}, err
			}
		}
		return Tokens{}, errBadRefresh()
	}
	if !now.Before(rec.ExpiresAt) {
		return Tokens{}, errBadRefresh()
	}

	famKey := familyKeyOf(rec.Family)
	famEntry, err := s.refresh.Get(ctx, famKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Tokens{}, errBadRefresh() // logged out or revoked
	}
	if err != nil {
		return Tokens{}, apperr.Wrap(err, "auth: load session")
	}
	var famRec familyRecord
	if err := json.Unmarshal(famEntry.Value(), &famRec); err != nil {
		return Tokens{}, apperr.Wrap(err, "auth: decode session")
	}
	if !famRec.Until.IsZero() && !now.Before(famRec.Until) {
		_ = s.revokeFamily(ctx, rec.Family)
		return Tokens{}, apperr.New(apperr.Unauthorized, "the single sign-on session has ended; sign in again")
	}

	// Retire the token first: this is the step that decides the race.
	rec.Used, rec.UsedAt = true, now
	used, _ := json.Marshal(rec)
	if _, err := s.refresh.Update(ctx, key, used, entry.Revision()); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return Tokens{}, errBadRefresh()
		}
		return Tokens{}, apperr.Wrap(err, "auth: retire refresh token")
	}

	// The account may have been removed, and its email or role may have
	// changed since the last token, so the new access token is built from
	// the current record.
	u, found, err := s.userByID(ctx, rec.UserID)
	if err != nil {
		return Tokens{}, err
	}
	if !found {
		_ = s.revokeFamily(ctx, rec.Family)
		return Tokens{}, errBadRefresh()
	}

	// Extending the family is revision-checked too, so a revocation that
	// lands between our read and now is not undone by this write.
	fam, _ := json.Marshal(familyRecord{UserID: rec.UserID, ExpiresAt: now.Add(s.cfg.RefreshTTL), Until: famRec.Until})
	if _, err := s.refresh.Update(ctx, famKey, fam, famEntry.Revision()); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return Tokens{}, errBadRefresh()
		}
		return Tokens{}, apperr.Wrap(err, "auth: extend session")
	}
	return s.issuePair(ctx, u.public(), rec.Family, now)
}

// Logout ends the session the refresh token belongs to. Already ended or
// unknown tokens are not an error, so retries and double clicks are safe;
// only a value that cannot be a refresh token is rejected.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	if !validRefreshFormat(refreshToken) {
		return errBadRefresh()
	}
	key := tokenKeyOf(refreshToken)
	entry, err := s.refresh.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return apperr.Wrap(err, "auth: load refresh token")
	}
	var rec refreshRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return apperr.Wrap(err, "auth: decode refresh token")
	}
	// Revoking the family also ends the token's successors, which is what a
	// user who clicks "log out" expects.
	if err := s.revokeFamily(ctx, rec.Family); err != nil {
		return err
	}
	if err := s.refresh.Delete(ctx, key); err != nil {
		return apperr.Wrap(err, "auth: delete refresh token")
	}
	return nil
}

// revokeFamily ends every token of the family; their records stay until they
// age out but are refused because the family is gone.
func (s *Service) revokeFamily(ctx context.Context, family string) error {
	// The access tokens of the session are refused first, so that a
	// failure below still leaves them dead.
	if err := s.putRevocation(ctx, "sid."+family); err != nil {
		return err
	}
	if err := s.refresh.Delete(ctx, familyKeyOf(family)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return apperr.Wrap(err, "auth: revoke session")
	}
	return nil
}

func validRefreshFormat(tok string) bool {
	rest, ok := strings.CutPrefix(tok, refreshPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(refreshRawBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil && len(b) == refreshRawBytes
}

// tokenKeyOf stores only a hash of the token, so that read access to the
// bucket does not yield usable tokens. An unsalted fast hash is enough for
// 256-bit random secrets.
func tokenKeyOf(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "tok." + hex.EncodeToString(sum[:])
}

func familyKeyOf(family string) string { return "fam." + family }
