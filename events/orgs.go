package events

import (
	"encoding/json"
	"regexp"
)

// Organisation event types (issue 15). They live on the subject
// orgs.<org id>, outside jobs.>, so job readers (projections, dispatch)
// never meet them; the envelope's job_id field carries the org id.
const (
	TypeOrgCreated           = "OrgCreated"
	TypeOrgMemberAdded       = "OrgMemberAdded"
	TypeOrgMemberRoleChanged = "OrgMemberRoleChanged"
	TypeOrgMemberRemoved     = "OrgMemberRemoved"
	TypeOrgSettingsChanged   = "OrgSettingsChanged"
)

// SubjectAllOrgs matches every organisation's events.
const SubjectAllOrgs = "orgs.*"

// StreamSubjects are the subjects the event stream stores: jobs and
// organisations.
var StreamSubjects = []string{SubjectAll, SubjectAllOrgs}

// OrgSubject is where one organisation's events are stored; one subject,
// so a command can append with the expected last sequence of it.
func OrgSubject(orgID string) string { return "orgs." + orgID }

var orgIDPattern = regexp.MustCompile(`^org_[a-z0-9]{1,40}$`)

// ValidOrgID reports whether id can be an organisation id (a subject token).
func ValidOrgID(id string) bool { return orgIDPattern.MatchString(id) }

// OrgCreated records a new organisation; the actor (by email) is its
// first admin, with no separate OrgMemberAdded.
type OrgCreated struct {
	Name string `json:"name"`
}

// OrgMemberAdded records that an address joined with a role. Membership
// is by (canonical) email, so an address invited before it has an account
// joins when it registers; UserID is set when the account existed.
type OrgMemberAdded struct {
	Email  string `json:"email"`
	Role   string `json:"role"`
	UserID string `json:"user_id,omitempty"`
	// Reason (v2) says why the system made the change: "sso" when the
	// identity provider's claims did (see ReasonSSO); empty for an
	// admin's change and in v1.
	Reason string `json:"reason,omitempty"`
}

// OrgMemberRoleChanged records a member's new role.
type OrgMemberRoleChanged struct {
	Email  string `json:"email"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"` // v2, as OrgMemberAdded's
}

// OrgMemberRemoved records that a member left or was removed.
type OrgMemberRemoved struct {
	Email  string `json:"email"`
	Role   string `json:"role"`             // the role the member had
	Reason string `json:"reason,omitempty"` // v2, as OrgMemberAdded's
}

// ReasonSSO marks membership changes made from the identity provider's
// claims (TAGSTREAM_OIDC_ORG_CLAIM), by the system actor.
const ReasonSSO = "sso"

// ReasonAccountDeleted marks the removal, by the system actor, of the
// memberships an account held when an admin deleted it.
const ReasonAccountDeleted = "account_deleted"

// addsReason upcasts v1 of the membership events to v2: v2 only adds the
// optional reason, which v1 events never had.
func addsReason(data json.RawMessage) (json.RawMessage, error) { return data, nil }

// OrgSettingsChanged records an organisation's settings as they are
// after the change (the whole set, so folding is a plain assignment):
// RetentionDays erases a job's document data that many days after it
// ended (0: kept until erased by hand); CallbackURL receives the signed
// webhooks of the organisation's jobs that name none of their own
// ("": none). The webhook secret is the server's, never in the log.
type OrgSettingsChanged struct {
	RetentionDays int    `json:"retention_days"`
	CallbackURL   string `json:"callback_url,omitempty"`
	// Changed names the settings this change set, for the audit trail.
	Changed []string `json:"changed"`
}

func (OrgCreated) EventType() string           { return TypeOrgCreated }
func (OrgMemberAdded) EventType() string       { return TypeOrgMemberAdded }
func (OrgMemberRoleChanged) EventType() string { return TypeOrgMemberRoleChanged }
func (OrgMemberRemoved) EventType() string     { return TypeOrgMemberRemoved }
func (OrgSettingsChanged) EventType() string   { return TypeOrgSettingsChanged }

func (OrgCreated) subject(id string) string           { return OrgSubject(id) }
func (OrgMemberAdded) subject(id string) string       { return OrgSubject(id) }
func (OrgMemberRoleChanged) subject(id string) string { return OrgSubject(id) }
func (OrgMemberRemoved) subject(id string) string     { return OrgSubject(id) }
func (OrgSettingsChanged) subject(id string) string   { return OrgSubject(id) }
