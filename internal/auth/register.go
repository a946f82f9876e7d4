package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagstream/tagstream/internal/apperr"
)

// Registration modes (TAGSTREAM_REGISTRATION).
const (
	RegistrationOpen   = "open"   // anyone registers as a user; an invitation may grant a role
	RegistrationInvite = "invite" // registration needs an invitation
	RegistrationClosed = "closed" // no registration through the API at all
)

// ValidRegistration reports whether mode is a known mode ("" is open).
func ValidRegistration(mode string) bool {
	switch mode {
	case "", RegistrationOpen, RegistrationInvite, RegistrationClosed:
		return true
	}
	return false
}

const (
	invitationPrefix = "inv_"
	// InvitationTTL is how long an invitation can be redeemed.
	InvitationTTL = 7 * 24 * time.Hour
)

// RegistrationError is a refused registration (403) with a specific code
// for clients: "registration_closed", "invitation_required",
// "invitation_invalid".
type RegistrationError struct {
	Reason string
	err    *apperr.Error
}

func (e *RegistrationError) Error() string { return e.err.Error() }
func (e *RegistrationError) Unwrap() error { return e.err }

func refuse(reason, msg string) error {
	return &RegistrationError{Reason: reason, err: apperr.New(apperr.Forbidden, "%s", msg)}
}

// RegistrationReason returns the specific code of a refused registration.
func RegistrationReason(err error) (string, bool) {
	var re *RegistrationError
	if errors.As(err, &re) {
		return re.Reason, true
	}
	return "", false
}

// Invitation is what an admin hands to an invitee: a one-time token bound
// to one email, granting a role at registration.
type Invitation struct {
	Token     string    `json:"invitation"`
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
}

type invitationRecord struct {
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	CreatedBy string    `json:"created_by"`
	ExpiresAt time.Time `json:"expires_at"`
	// Org is set when adding the address to an organisation made the
	// invitation: removing that membership withdraws it.
	Org string `json:"org,omitempty"`
}

// Invite creates an invitation for email with role. by is the admin's id,
// or "operator" for the bootstrap command; the caller checks permission.
func (s *Service) Invite(ctx context.Context, by, email string, role Role) (Invitation, error) {
	return s.invite(ctx, by, email, role, "")
}

// InviteToOrg is Invite for an address an organisation's admin added to
// orgID (role user: the organisation role is the membership).
func (s *Service) InviteToOrg(ctx context.Context, by, orgID, email string) (Invitation, error) {
	return s.invite(ctx, by, email, RoleUser, orgID)
}

// WithdrawOrgInvitations deletes the unused invitations that adding email
// to orgID made: the membership they were for was removed before the
// invitee registered, and the invitation still let them register.
func (s *Service) WithdrawOrgInvitations(ctx context.Context, orgID, email string) error {
	email = canonicalEmail(email)
	keys, err := s.users.ListKeysFiltered(ctx, "inv.*")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		return apperr.Wrap(err, "auth: list invitations")
	}
	for key := range keys.Keys() {
		entry, err := s.users.Get(ctx, key)
		if err != nil {
			continue // used or withdrawn meanwhile
		}
		var rec invitationRecord
		if json.Unmarshal(entry.Value(), &rec) != nil || rec.Org != orgID || rec.Email != email {
			continue
		}
		if err := s.users.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return apperr.Wrap(err, "auth: withdraw invitation")
		}
	}
	return nil
}

func (s *Service) invite(ctx context.Context, by, email string, role Role, orgID string) (Invitation, error) {
	email = canonicalEmail(email)
	if err := checkEmail(email); err != nil {
		return Invitation{}, err
	}
	if role == "" {
		role = RoleUser
	}
	if !role.valid() {
		return Invitation{}, apperr.Field("role", "must be one of user, auditor, admin")
	}
	tok := invitationPrefix + randomString(refreshRawBytes)
	exp := s.now().Add(InvitationTTL).UTC().Truncate(time.Second)
	b, _ := json.Marshal(invitationRecord{Email: email, Role: role, CreatedBy: by, ExpiresAt: exp, Org: orgID})
	if _, err := s.users.Create(ctx, invitationKeyOf(tok), b); err != nil {
		return Invitation{}, apperr.Wrap(err, "auth: store invitation")
	}
	return Invitation{Token: tok, Email: email, Role: role, ExpiresAt: exp}, nil
}

// RegisterInvited registers with an optional invitation, under the
// configured mode. The role comes only from the invitation (created by an
// admin or by the operator's bootstrap), never from the address.
func (s *Service) RegisterInvited(ctx context.Context, email, password, fullName, invitation string) (User, error) {
	switch s.cfg.Registration {
	case RegistrationClosed:
		return User{}, refuse("registration_closed", "registration is closed on this server; ask an administrator for an account")
	case RegistrationInvite:
		if invitation == "" {
			return User{}, refuse("invitation_required", "registration on this server needs an invitation from an administrator")
		}
	}
	role := RoleUser
	var invKey string
	if invitation != "" {
		inv, key, err := s.invitation(ctx, invitation)
		if err != nil {
			return User{}, err
		}
		// Bound to the address it was made for: a leaked invitation
		// cannot be redeemed for another account, and since an email
		// registers once, it is redeemed at most once.
		if canonicalEmail(email) != inv.Email {
			return User{}, refuse("invitation_invalid", "this invitation is for another email address")
		}
		role, invKey = inv.Role, key
	}
	u, err := s.register(ctx, email, password, fullName, role)
	if err != nil {
		return User{}, err
	}
	if invKey != "" {
		_ = s.users.Delete(context.WithoutCancel(ctx), invKey)
	}
	return u, nil
}

func (s *Service) invitation(ctx context.Context, tok string) (invitationRecord, string, error) {
	bad := refuse("invitation_invalid", "the invitation is invalid, used or expired")
	rest, ok := strings.CutPrefix(tok, invitationPrefix)
	if !ok || len(rest) > 64 || strings.ContainsAny(rest, ".*> ") {
		return invitationRecord{}, "", bad
	}
	key := invitationKeyOf(tok)
	entry, err := s.users.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return invitationRecord{}, "", bad
	}
	if err != nil {
		return invitationRecord{}, "", apperr.Wrap(err, "auth: load invitation")
	}
	var rec invitationRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil || !rec.Role.valid() {
		return invitationRecord{}, "", bad
	}
	if !s.now().Before(rec.ExpiresAt) {
		return invitationRecord{}, "", bad
	}
	return rec, key, nil
}

// invitationKeyOf stores only a hash, like refresh tokens.
func invitationKeyOf(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "inv." + hex.EncodeToString(sum[:])
}

// Bootstrap makes the first admin, run by the operator next to the data
// (`tagstream admin bootstrap`): an existing account is promoted; for an
// address not yet registered it returns an admin invitation to register
// with. Nothing is granted by merely registering an address.
// role is admin or auditor.
func (s *Service) Bootstrap(ctx context.Context, email string, role Role) (User, *Invitation, error) {
	if role != RoleAdmin && role != RoleAuditor {
		return User{}, nil, apperr.Field("role", "must be admin or auditor")
	}
	email = canonicalEmail(email)
	if err := checkEmail(email); err != nil {
		return User{}, nil, err
	}
	rec, found, err := s.userByEmail(ctx, email)
	if err != nil {
		return User{}, nil, err
	}
	if found {
		u, err := s.SetRole(ctx, rec.ID, role)
		return u, nil, err
	}
	inv, err := s.Invite(ctx, "operator", email, role)
	if err != nil {
		return User{}, nil, err
	}
	return User{}, &inv, nil
}
