package services

import (
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services/org"
)

// This file is the one access policy for jobs: every read path (status,
// results, events, streams, lists, analytics, search) and every command
// (pause, resume, cancel, retry) asks JobAccess, so a rule cannot differ
// between two paths.

// Access is what a caller may do with one job.
type Access int

// Access levels, each including the one before.
const (
	AccessNone    Access = iota // the job does not exist for the caller (404)
	AccessRead                  // status, results, events, streams
	AccessControl               // pause, resume, cancel, retry
)

// JobAccess decides what c may do with a job of ownerID in organisation
// orgID ("" for none).
//   - The owner always controls the job.
//   - In an organisation, the caller's role there decides: admin and
//     operator control every job, auditor reads every job, member only
//     their own; the global auditor/admin roles do not reach into an
//     organisation (it is the organisation's to grant).
//   - Outside organisations: global admin controls, global auditor reads.
func JobAccess(c Caller, ownerID, orgID string) Access {
	if ownerID != "" && ownerID == c.Actor.ID {
		return AccessControl
	}
	if orgID != "" {
		switch c.Orgs[orgID] {
		case org.RoleAdmin, org.RoleOperator:
			return AccessControl
		case org.RoleAuditor:
			return AccessRead
		}
		return AccessNone
	}
	switch {
	case c.ControlAll:
		return AccessControl
	case c.ReadAll:
		return AccessRead
	}
	return AccessNone
}

// CanRead reports whether c may read the job.
func CanRead(c Caller, ownerID, orgID string) bool { return JobAccess(c, ownerID, orgID) >= AccessRead }

// CheckRead is JobAccess for a read: a job the caller may not read is
// NotFound, so ids of other people's (and organisations') jobs cannot be probed.
func CheckRead(c Caller, jobID, ownerID, orgID string) error {
	if !CanRead(c, ownerID, orgID) {
		return apperr.New(apperr.NotFound, "job %q not found", jobID)
	}
	return nil
}

// CheckControl is JobAccess for a command: NotFound when the caller may
// not even read the job, Forbidden when it may only read it.
func CheckControl(c Caller, jobID, ownerID, orgID string) error {
	switch JobAccess(c, ownerID, orgID) {
	case AccessControl:
		return nil
	case AccessRead:
		return apperr.New(apperr.Forbidden, "your role lets you read job %q but not control it", jobID)
	}
	return apperr.New(apperr.NotFound, "job %q not found", jobID)
}

// CheckStartIn decides whether c may start a job in organisation orgID:
// members, operators and admins may; auditors are refused (403); anyone
// else does not see the organisation (404).
func CheckStartIn(c Caller, orgID string) error {
	if orgID == "" {
		return nil
	}
	switch c.Orgs[orgID] {
	case org.RoleMember, org.RoleOperator, org.RoleAdmin:
		return nil
	case org.RoleAuditor:
		return apperr.New(apperr.Forbidden, "auditors cannot start jobs in organisation %q", orgID)
	}
	return &apperr.Error{Code: apperr.NotFound, Field: "org_id", Message: "organisation " + orgID + " not found"}
}

// isJobAdmin reports whether c administers the job: the organisation's
// admin for an organisation's job, a global admin for any other.
func isJobAdmin(c Caller, orgID string) bool {
	if orgID != "" {
		return c.Orgs[orgID] == org.RoleAdmin
	}
	return c.ControlAll
}

// CanErase reports whether c may erase a job: its owner or an admin
// (isJobAdmin) may; the system may always (retention erases as the
// system).
func CanErase(c Caller, ownerID, orgID string) bool {
	return c.Actor.Kind == events.ActorSystem || (ownerID != "" && ownerID == c.Actor.ID) || isJobAdmin(c, orgID)
}

// CanHold reports whether c may set or lift a legal hold: admins only
// (isJobAdmin), not the owner whose erasure it blocks.
func CanHold(c Caller, orgID string) bool { return isJobAdmin(c, orgID) }

// CheckErase is CanErase for the command: NotFound when c may not even
// read the job, Forbidden when it may read but not erase it.
func CheckErase(c Caller, jobID, ownerID, orgID string) error {
	if CanErase(c, ownerID, orgID) {
		return nil
	}
	if err := CheckRead(c, jobID, ownerID, orgID); err != nil {
		return err
	}
	return apperr.New(apperr.Forbidden, "only the job's owner or an admin can erase job %q", jobID)
}

// CheckLegalHold is CanHold for the command (NotFound / Forbidden as
// CheckErase).
func CheckLegalHold(c Caller, jobID, ownerID, orgID string) error {
	if CanHold(c, orgID) {
		return nil
	}
	if err := CheckRead(c, jobID, ownerID, orgID); err != nil {
		return err
	}
	return apperr.New(apperr.Forbidden, "only an admin can set or lift a legal hold on job %q", jobID)
}
