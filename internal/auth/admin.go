package auth

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagstream/tagstream/internal/apperr"
)

// SetRole changes an account's role. It is the only way to grant auditor or
// admin after the first admin (see Bootstrap): no email is privileged by
// itself. The account's earlier access tokens are revoked, so a demotion
// takes effect at once; refreshed tokens carry the new role.
func (s *Service) SetRole(ctx context.Context, id string, role Role) (User, error) {
	if !role.valid() {
		return User{}, apperr.Field("role", "must be one of user, auditor, admin")
	}
	if !validUserID(id) {
		return User{}, apperr.New(apperr.NotFound, "user not found")
	}
	for range 5 { // revision conflicts: someone else changed the record
		rec, found, err := s.userByID(ctx, id)
		if err != nil {
			return User{}, err
		}
		if !found {
			return User{}, apperr.New(apperr.NotFound, "user not found")
		}
		if rec.Issuer != "" {
			// The claims decide a federated account's role at every
			// verification; a role set here would silently revert.
			return User{}, apperr.New(apperr.Conflict, "this account signs in through the identity provider; its role follows TAGSTREAM_OIDC_ROLES")
		}
		key := rec.key()
		entry, err := s.users.Get(ctx, key)
		if err != nil {
			return User{}, apperr.Wrap(err, "auth: load user")
		}
		if rec.Role == role {
			return rec.public(), nil
		}
		rec.Role = role
		b, _ := json.Marshal(rec)
		if _, err := s.users.Update(ctx, key, b, entry.Revision()); err != nil {
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				continue
			}
			return User{}, apperr.Wrap(err, "auth: update role")
		}
		if err := s.putRevocation(ctx, "usr."+id); err != nil {
			return User{}, err
		}
		return rec.public(), nil
	}
	return User{}, apperr.New(apperr.Conflict, "the account is being changed concurrently; retry")
}

// DeleteUser removes an account and revokes every access token it holds;
// its refresh tokens fail because the account is gone.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	rec, found, err := s.userByID(ctx, id)
	if err != nil {
		return err
	}
	if !found {
		return apperr.New(apperr.NotFound, "user not found")
	}
	// Revoke first: a half-done deletion must not leave tokens working.
	if err := s.putRevocation(ctx, "usr."+id); err != nil {
		return err
	}
	if rec.Issuer != "" {
		// A federated account is kept as a tombstone: deleting it would let
		// the provider's next token (or sign-in) recreate it at once.
		rec.Removed = true
		b, _ := json.Marshal(rec)
		if _, err := s.users.Put(ctx, rec.key(), b); err != nil {
			return apperr.Wrap(err, "auth: remove federated user")
		}
	} else if err := s.users.Delete(ctx, rec.key()); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return apperr.Wrap(err, "auth: delete user")
	}
	if err := s.users.Delete(ctx, idKeyOf(id)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return apperr.Wrap(err, "auth: delete user index")
	}
	return nil
}
