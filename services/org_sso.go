package services

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services/org"
)

// SSOMemberships keeps the organisation memberships of users who sign in
// through the identity provider in line with its claims
// (TAGSTREAM_OIDC_ORG_CLAIM): each change is a membership event by the
// system actor with reason "sso". It manages only the memberships it made:
// an address an admin added keeps the admin's role.
type SSOMemberships struct {
	orgs    OrgHandler
	dir     *OrgDirectory
	mapping map[string]string // claim value -> org id or name (TAGSTREAM_OIDC_ORGS)
	log     *slog.Logger
}

// NewSSOMemberships returns the sync; mapping may be nil (claim values
// then name organisations by id or by their unique name).
func NewSSOMemberships(h OrgHandler, dir *OrgDirectory, mapping map[string]string, log *slog.Logger) *SSOMemberships {
	if log == nil {
		log = slog.Default()
	}
	return &SSOMemberships{orgs: h, dir: dir, mapping: mapping, log: log}
}

type ssoChange struct {
	orgID string
	cmd   org.Command
}

// SSOOrgRole is the organisation role of an account role from the
// provider's role mapping: admin and auditor keep their name, anyone
// else is a member.
func SSOOrgRole(accountRole string) string {
	switch accountRole {
	case org.RoleAdmin, org.RoleAuditor:
		return accountRole
	}
	return org.RoleMember
}

// Sync brings email's SSO memberships to the organisations named by
// values, with the role that accountRole maps to, and waits until the
// directory shows them, so the request that signed in already has them.
func (m *SSOMemberships) Sync(ctx context.Context, userID, email, accountRole string, values []string) error {
	email = org.CanonicalEmail(email)
	if org.CheckEmail(email) != nil {
		return nil // memberships are by address
	}
	role := SSOOrgRole(accountRole)
	want := map[string]bool{}
	for _, v := range values {
		if id := m.resolve(v); id != "" {
			want[id] = true
		}
	}
	have := m.dir.MemberOf(email)
	for id, cur := range have {
		if !cur.HeldBy(userID) {
			// Another account with this address holds it (a password
			// account, another provider's subject): not this account's to
			// change or remove, and the organisation has the address
			// already, so it cannot be added for this one either.
			m.log.Warn("sso membership held by another account with the same address", "org_id", id, "user_id", userID)
			delete(have, id)
			delete(want, id)
		}
	}
	var cmds []ssoChange
	add := func(id string, c org.Command) {
		c.By, c.Email, c.Reason = events.System, email, events.ReasonSSO
		cmds = append(cmds, ssoChange{id, c})
	}
	for id := range want {
		switch cur, ok := have[id]; {
		case !ok:
			add(id, org.Command{Action: org.ActionAdd, Role: role, UserID: userID})
		case cur.SSO && cur.Role != role:
			add(id, org.Command{Action: org.ActionRole, Role: role})
		}
	}
	for id, cur := range have {
		if cur.SSO && !want[id] {
			add(id, org.Command{Action: org.ActionRemove})
		}
	}
	var last uint64
	for _, c := range cmds {
		res, err := m.orgs.Change(ctx, c.orgID, c.cmd)
		switch apperr.Code(err) {
		case "":
			last = max(last, res.Seq)
		case apperr.Conflict, apperr.NotFound:
			// Already so (a concurrent sign-in), or the last admin, or an
			// organisation deleted meanwhile: the next sign-in tries again.
			m.log.Info("sso membership left as it is", "org_id", c.orgID, "action", c.cmd.Action, "reason", err)
		default:
			return apperr.Wrap(err, "sso memberships")
		}
	}
	if last == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return m.dir.WaitFor(wctx, last)
}

// resolve maps one claim value to an organisation id: through the
// configured mapping first, then as an id, then as the name of exactly
// one organisation ("" when none or several match).
func (m *SSOMemberships) resolve(v string) string {
	v = strings.TrimSpace(v)
	if to, ok := m.mapping[v]; ok {
		v = to
	}
	if events.ValidOrgID(v) {
		if m.dir.Exists(v) {
			return v
		}
		return ""
	}
	ids := m.dir.Named(v)
	if len(ids) != 1 {
		if len(ids) > 1 {
			m.log.Warn("sso: several organisations have this name; map the claim value to an org id with TAGSTREAM_OIDC_ORGS", "value", v)
		}
		return ""
	}
	return ids[0]
}
