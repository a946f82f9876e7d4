// Package org holds the rules of organisations: the state an
// organisation's events fold into and the one decider that turns a
// membership command into events (or refuses it). It is pure: loading and
// appending are the caller's (services.OrgHandler).
package org

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// Roles inside an organisation (DESIGN "Organisations").
const (
	RoleMember   = "member"   // starts jobs, reads and controls its own
	RoleOperator = "operator" // reads and controls every job of the organisation
	RoleAuditor  = "auditor"  // reads every job of the organisation, controls nothing
	RoleAdmin    = "admin"    // operator + members and settings
)

// ValidRole reports whether r is an organisation role.
func ValidRole(r string) bool {
	return r == RoleMember || r == RoleOperator || r == RoleAuditor || r == RoleAdmin
}

// Command actions.
const (
	ActionCreate = "create"
	ActionAdd    = "add"
	ActionRole   = "role"
	ActionRemove = "remove"
	// ActionSettings changes the organisation's settings (admins only).
	ActionSettings = "settings"
)

// MaxRetentionDays bounds retention_days (ten years); 0 turns it off.
const MaxRetentionDays = 3650

// MaxName bounds an organisation's name (characters, after trimming).
const MaxName = 200

// Member is one address's membership.
type Member struct {
	Email   string       `json:"email"`
	Role    string       `json:"role"`
	UserID  string       `json:"user_id,omitempty"`
	Since   time.Time    `json:"since"`
	AddedBy events.Actor `json:"added_by"`
	// SSO is set when the identity provider's claims made the membership
	// (reason "sso"): the claims keep managing it, an admin's do not.
	SSO bool `json:"sso,omitempty"`
}

// State is an organisation folded from its events.
type State struct {
	ID        string
	Name      string
	CreatedAt time.Time
	CreatedBy events.Actor
	Members   map[string]Member // by canonical email
	Settings  Settings
	Seq       uint64 // last event folded (the append guard)
}

// Settings are what an admin sets for the whole organisation.
type Settings struct {
	RetentionDays int    `json:"retention_days"` // 0: no automatic erasure
	CallbackURL   string `json:"callback_url"`   // default webhook; "": none
}

// New returns the state of an organisation before any event.
func New(id string) *State { return &State{ID: id, Members: map[string]Member{}} }

// Exists reports whether the organisation was created.
func (s *State) Exists() bool { return !s.CreatedAt.IsZero() }

// Role is email's role, "" for a non-member.
func (s *State) Role(email string) string { return s.Members[CanonicalEmail(email)].Role }

// RoleOf is the role a's account holds here, "" for none: a membership of
// a's address that names another account (a.ID is not its UserID) is not
// a's. Two accounts can share an address (a password account and a
// single sign-on account, or an account registered after the member's was
// deleted), and roles went to both.
func (s *State) RoleOf(a events.Actor) string {
	m, ok := s.Members[CanonicalEmail(a.Email)]
	if !ok || !m.HeldBy(a.ID) {
		return ""
	}
	return m.Role
}

// HeldBy reports whether the account userID holds the membership: the
// account it names, or, when it names none (the address was added before
// it had an account), any account with the address.
func (m Member) HeldBy(userID string) bool { return m.UserID == "" || m.UserID == userID }

// Apply folds one stored event; events of unknown types are left out
// (a newer release wrote them) and reported as such by Decode's error.
func (s *State) Apply(env events.Envelope) error {
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	s.ApplyEvent(env, ev)
	return nil
}

// ApplyEvent folds a decoded event.
func (s *State) ApplyEvent(env events.Envelope, ev events.Event) {
	if env.Seq != 0 && env.Seq <= s.Seq {
		return // seen already
	}
	if env.Seq != 0 {
		s.Seq = env.Seq
	}
	switch e := ev.(type) {
	case *events.OrgCreated:
		// The creator is the first admin, in the same event, so an
		// organisation never exists without one.
		s.Name, s.CreatedAt, s.CreatedBy = e.Name, env.Time, env.Actor
		email := CanonicalEmail(env.Actor.Email)
		s.Members[email] = Member{Email: email, Role: RoleAdmin, UserID: env.Actor.ID, Since: env.Time, AddedBy: env.Actor}
	case *events.OrgMemberAdded:
		s.Members[e.Email] = Member{Email: e.Email, Role: e.Role, UserID: e.UserID, Since: env.Time, AddedBy: env.Actor,
			SSO: e.Reason == events.ReasonSSO}
	case *events.OrgMemberRoleChanged:
		if m, ok := s.Members[e.Email]; ok {
			m.Role = e.To
			s.Members[e.Email] = m
		}
	case *events.OrgMemberRemoved:
		delete(s.Members, e.Email)
	case *events.OrgSettingsChanged:
		s.Settings = Settings{RetentionDays: e.RetentionDays, CallbackURL: e.CallbackURL}
	}
}

// Command is a membership change asked by By.
type Command struct {
	Action string
	By     events.Actor // By.Email is the caller's (canonical) address
	Name   string       // create
	Email  string       // add, role, remove
	Role   string       // add, role
	UserID string       // add: the account's id when it exists
	// Reason is recorded with a membership change the system makes
	// (By.Kind "system", e.g. events.ReasonSSO); users' changes have none.
	Reason string
	// settings: the ones to change (nil: keep); CallbackURL "" removes
	// the default webhook, RetentionDays 0 turns retention off. The
	// caller has checked the URL (its rules are the server's).
	RetentionDays *int
	CallbackURL   *string
}

// Decide is the organisation's rules in one place: who may do what, and
// what it records. A caller who is not a member sees the organisation as
// missing (404); a member who is not an admin is refused (403).
func Decide(s *State, c Command) ([]events.Event, error) {
	if c.Action == ActionCreate {
		if s.Exists() {
			return nil, apperr.New(apperr.Conflict, "organisation %q exists", s.ID)
		}
		name, err := checkName(c.Name)
		if err != nil {
			return nil, err
		}
		if CheckEmail(CanonicalEmail(c.By.Email)) != nil {
			return nil, apperr.New(apperr.Forbidden, "an account without an email address cannot create an organisation")
		}
		return []events.Event{events.OrgCreated{Name: name}}, nil
	}
	byRole := s.RoleOf(c.By)
	system := c.By.Kind == events.ActorSystem && c.Action != ActionSettings
	if system && s.Exists() {
		// The system acts on the server's configuration (single sign-on
		// claims), not on a role in the organisation.
		byRole = RoleAdmin
	}
	if !s.Exists() || byRole == "" {
		return nil, apperr.New(apperr.NotFound, "organisation %q not found", s.ID)
	}
	reason := ""
	if system {
		reason = c.Reason
	}
	if c.Action == ActionSettings {
		if byRole != RoleAdmin {
			return nil, apperr.New(apperr.Forbidden, "only an admin of the organisation may change its settings")
		}
		return decideSettings(s, c)
	}
	email := CanonicalEmail(c.Email)
	self := email == CanonicalEmail(c.By.Email)
	// A member may leave on their own; everything else is an admin's.
	if byRole != RoleAdmin && !(c.Action == ActionRemove && self) {
		return nil, apperr.New(apperr.Forbidden, "only an admin of the organisation may change its members")
	}
	if err := CheckEmail(email); err != nil {
		return nil, err
	}
	cur, isMember := s.Members[email]
	switch c.Action {
	case ActionAdd:
		if !ValidRole(c.Role) {
			return nil, apperr.Field("role", "must be one of member, operator, auditor, admin")
		}
		if isMember {
			return nil, apperr.New(apperr.Conflict, "%s is already a member (role %s); change the role instead", email, cur.Role)
		}
		return []events.Event{events.OrgMemberAdded{Email: email, Role: c.Role, UserID: c.UserID, Reason: reason}}, nil
	case ActionRole:
		if !ValidRole(c.Role) {
			return nil, apperr.Field("role", "must be one of member, operator, auditor, admin")
		}
		if !isMember {
			return nil, apperr.New(apperr.NotFound, "%s is not a member of the organisation", email)
		}
		if cur.Role == c.Role {
			return nil, nil // already so: nothing to record
		}
		if cur.Role == RoleAdmin && s.admins() == 1 {
			return nil, apperr.New(apperr.Conflict, "%s is the organisation's last admin; make another admin first", email)
		}
		return []events.Event{events.OrgMemberRoleChanged{Email: email, From: cur.Role, To: c.Role, Reason: reason}}, nil
	case ActionRemove:
		if !isMember {
			return nil, apperr.New(apperr.NotFound, "%s is not a member of the organisation", email)
		}
		if cur.Role == RoleAdmin && s.admins() == 1 {
			return nil, apperr.New(apperr.Conflict, "%s is the organisation's last admin; make another admin first", email)
		}
		return []events.Event{events.OrgMemberRemoved{Email: email, Role: cur.Role, Reason: reason}}, nil
	}
	return nil, apperr.New(apperr.Invalid, "unknown organisation action %q", c.Action)
}

// decideSettings records the settings after the change, or nothing when
// they are already so.
func decideSettings(s *State, c Command) ([]events.Event, error) {
	next, changed := s.Settings, []string{}
	if c.RetentionDays != nil {
		if d := *c.RetentionDays; d < 0 || d > MaxRetentionDays {
			return nil, apperr.Field("retention_days", "must be 0 (keep until erased) to %d days, got %d", MaxRetentionDays, d)
		}
		if *c.RetentionDays != next.RetentionDays {
			next.RetentionDays = *c.RetentionDays
			changed = append(changed, "retention_days")
		}
	}
	if c.CallbackURL != nil && strings.TrimSpace(*c.CallbackURL) != next.CallbackURL {
		next.CallbackURL = strings.TrimSpace(*c.CallbackURL)
		changed = append(changed, "callback_url")
	}
	if len(changed) == 0 {
		return nil, nil
	}
	return []events.Event{events.OrgSettingsChanged{RetentionDays: next.RetentionDays, CallbackURL: next.CallbackURL, Changed: changed}}, nil
}

func (s *State) admins() int {
	n := 0
	for _, m := range s.Members {
		if m.Role == RoleAdmin {
			n++
		}
	}
	return n
}

func checkName(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", apperr.Field("name", "is required")
	}
	if n := utf8.RuneCountInString(v); n > MaxName {
		return "", apperr.Field("name", "must be at most %d characters, got %d", MaxName, n)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "", apperr.Field("name", "must not contain control characters")
		}
	}
	return v, nil
}

// CanonicalEmail folds an address the way accounts do (internal/auth), so
// a membership matches the account that registers with it.
func CanonicalEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(norm.NFKC.String(email)))
}

// CheckEmail is a shape check of a canonical address; the account
// service applies its stricter rules when the address registers.
func CheckEmail(email string) error {
	at := strings.LastIndexByte(email, '@')
	if email == "" || len(email) > 254 || at < 1 || at == len(email)-1 {
		return apperr.Field("email", "must be an email address")
	}
	for _, r := range email {
		// Format characters too (a zero-width space, a direction mark):
		// a@x and a<U+200B>@x look alike, and registration refuses them.
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return apperr.Field("email", "must not contain spaces, control or invisible characters")
		}
	}
	return nil
}
