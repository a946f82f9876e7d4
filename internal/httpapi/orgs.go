package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/org"
)

const orgRolesKey = "tagstream.org_roles"

// OrgCommands runs organisation commands (services.OrgHandler).
type OrgCommands interface {
	Create(ctx context.Context, by events.Actor, name string) (services.OrgResult, error)
	Change(ctx context.Context, orgID string, cmd org.Command) (services.OrgResult, error)
	ChangeSettings(ctx context.Context, orgID string, by events.Actor, ch services.SettingsChange) (services.OrgResult, error)
}

// OrgDirectory answers membership questions (services.OrgDirectory).
type OrgDirectory interface {
	Roles(userID, email string) map[string]string
	Mine(userID, email string) []services.OrgView
	Members(orgID string) []org.Member
	Settings(orgID string) org.Settings
	WaitFor(ctx context.Context, seq uint64) error
}

// invitations is what adding an address without an account needs from
// the account service, under TAGSTREAM_REGISTRATION=invite.
type invitations interface {
	InviteToOrg(ctx context.Context, by, orgID, email string) (auth.Invitation, error)
	WithdrawOrgInvitations(ctx context.Context, orgID, email string) error
	UserByEmail(ctx context.Context, email string) (auth.User, bool, error)
	RegistrationMode() string
}

func (s *Server) orgRoutes(r *gin.Engine) {
	g := r.Group("/api/orgs", s.orgsAvailable, s.authenticate)
	g.POST("", s.createOrg)
	g.GET("", s.myOrgs)
	g.GET("/:org_id/members", s.orgRole(org.RoleMember, org.RoleOperator, org.RoleAuditor, org.RoleAdmin), s.orgMembers)
	g.POST("/:org_id/members", s.addMember)
	g.PATCH("/:org_id/members/:email", s.changeMember)
	g.DELETE("/:org_id/members/:email", s.removeMember)
	g.GET("/:org_id/settings", s.orgRole(org.RoleAuditor, org.RoleAdmin), s.orgSettings)
	g.PATCH("/:org_id/settings", s.changeOrgSettings)
	g.GET("/:org_id/events", s.orgRole(org.RoleAuditor, org.RoleAdmin), s.orgEvents)
}

func (s *Server) orgsAvailable(c *gin.Context) {
	if s.d.OrgCommands == nil || s.d.OrgDirectory == nil {
		fail(c, apperr.New(apperr.NotFound, "organisations are not available on this server"))
		return
	}
	c.Next()
}

// orgRole admits members with one of roles; another member is refused
// (403) and anyone else does not see the organisation (404).
func (s *Server) orgRole(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("org_id")
		role := caller(c).Orgs[id]
		if role == "" {
			fail(c, apperr.New(apperr.NotFound, "organisation %q not found", id))
			return
		}
		for _, r := range roles {
			if r == role {
				c.Next()
				return
			}
		}
		fail(c, apperr.New(apperr.Forbidden, "your role in the organisation (%s) does not allow this", role))
	}
}

type createOrgRequest struct {
	Name string `json:"name"`
}

func (s *Server) createOrg(c *gin.Context) {
	var req createOrgRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	res, err := s.d.OrgCommands.Create(c.Request.Context(), caller(c).Actor, req.Name)
	if err != nil {
		fail(c, err)
		return
	}
	s.orgWritten(c, res.Seq)
	c.JSON(http.StatusCreated, gin.H{"org_id": res.OrgID, "name": req.Name, "role": org.RoleAdmin})
}

// orgWritten makes an organisation change visible to the caller's next
// request (the directory follows the log).
func (s *Server) orgWritten(c *gin.Context, seq uint64) {
	if seq == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	if err := s.d.OrgDirectory.WaitFor(ctx, seq); err != nil {
		s.d.Log.Warn("organisation directory lags behind a write", "seq", seq, "err", err)
	}
}

func (s *Server) myOrgs(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"orgs": s.d.OrgDirectory.Mine(claims(c).UserID, claims(c).Email)})
}

func (s *Server) orgMembers(c *gin.Context) {
	id := c.Param("org_id")
	members := s.d.OrgDirectory.Members(id)
	out := make([]gin.H, len(members))
	for i, m := range members {
		out[i] = gin.H{"email": m.Email, "role": m.Role, "user_id": m.UserID, "since": m.Since, "added_by": m.AddedBy, "sso": m.SSO}
	}
	c.JSON(http.StatusOK, gin.H{"org_id": id, "members": out})
}

type memberRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// addMember adds an address with a role. An address without an account
// joins when it registers (membership is by email); when registration
// needs an invitation (TAGSTREAM_REGISTRATION=invite), the answer carries
// one for the admin to hand on.
func (s *Server) addMember(c *gin.Context) {
	var req memberRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	who := caller(c)
	email := org.CanonicalEmail(req.Email)
	cmd := org.Command{Action: org.ActionAdd, By: who.Actor, Email: email, Role: req.Role}
	inv, _ := s.d.Auth.(invitations)
	var account bool
	if inv != nil && org.CheckEmail(email) == nil {
		u, found, err := inv.UserByEmail(c.Request.Context(), email)
		if err != nil {
			fail(c, err)
			return
		}
		account, cmd.UserID = found, u.ID
	}
	res, err := s.d.OrgCommands.Change(c.Request.Context(), c.Param("org_id"), cmd)
	if err != nil {
		fail(c, err)
		return
	}
	s.orgWritten(c, res.Seq)
	body := gin.H{"org_id": res.OrgID, "email": email, "role": req.Role, "account": account}
	if inv != nil && !account && inv.RegistrationMode() == auth.RegistrationInvite {
		// The account-level role stays "user": the organisation role is
		// the membership just recorded.
		i, err := inv.InviteToOrg(c.Request.Context(), who.Actor.ID, res.OrgID, email)
		if err != nil {
			fail(c, err)
			return
		}
		body["invitation"] = i
	}
	c.JSON(http.StatusCreated, body)
}

type memberRoleRequest struct {
	Role string `json:"role"`
}

func (s *Server) changeMember(c *gin.Context) {
	var req memberRoleRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	s.memberCommand(c, org.Command{Action: org.ActionRole, Role: req.Role}, nil)
}

func (s *Server) removeMember(c *gin.Context) {
	s.memberCommand(c, org.Command{Action: org.ActionRemove}, func(orgID, email string) {
		// An address removed before it registered: the invitation adding
		// it made no longer stands (it let the invitee register on an
		// invite-only server after all).
		if inv, ok := s.d.Auth.(invitations); ok {
			if err := inv.WithdrawOrgInvitations(c.Request.Context(), orgID, email); err != nil {
				s.d.Log.Warn("withdrawing a removed member's invitation failed", "org_id", orgID, "err", err)
			}
		}
	})
}

// memberCommand runs cmd on the member named in the path; then, if set,
// runs after it succeeded and before the answer.
func (s *Server) memberCommand(c *gin.Context, cmd org.Command, then func(orgID, email string)) {
	cmd.By, cmd.Email = caller(c).Actor, org.CanonicalEmail(c.Param("email"))
	res, err := s.d.OrgCommands.Change(c.Request.Context(), c.Param("org_id"), cmd)
	if err != nil {
		fail(c, err)
		return
	}
	s.orgWritten(c, res.Seq)
	if then != nil {
		then(res.OrgID, cmd.Email)
	}
	body := gin.H{"org_id": res.OrgID, "email": cmd.Email}
	if cmd.Action == org.ActionRole {
		body["role"] = cmd.Role
	} else {
		body["removed"] = true
	}
	c.JSON(http.StatusOK, body)
}

// orgEvents is the organisation's audit trail straight from the log:
// creation, members added, role changes and removals, with actor and time.
func (s *Server) orgEvents(c *gin.Context) {
	id := c.Param("org_id")
	var from uint64 = 1
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < 1 {
			fail(c, apperr.Field("cursor", "is not a cursor this server issued"))
			return
		}
		from = n
	}
	out := []auditEvent{}
	var next any
	errStop := apperr.New(apperr.Internal, "page full")
	err := s.d.Events.Read(c.Request.Context(), events.OrgSubject(id), from, func(e events.Envelope) error {
		if len(out) == maxPage {
			next = strconv.FormatUint(e.Seq, 10)
			return errStop
		}
		out = append(out, newAuditEvent(e))
		return nil
	})
	if err != nil && err != errStop {
		fail(c, apperr.Wrap(err, "read organisation events"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"org_id": id, "events": out, "next_cursor": next})
}
