package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/org"
)

const claimsKey = "tagstream.claims"

type registerRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	FullName   string `json:"full_name"`
	Invitation string `json:"invitation"`
}

// accountAdmin is what the invitation and role endpoints need; it is
// separate from Authenticator so that test doubles of the latter still fit.
type accountAdmin interface {
	RegisterInvited(ctx context.Context, email, password, fullName, invitation string) (auth.User, error)
	Invite(ctx context.Context, by, email string, role auth.Role) (auth.Invitation, error)
	SetRole(ctx context.Context, id string, role auth.Role) (auth.User, error)
	DeleteUser(ctx context.Context, id string) error
}

// accountRoutes adds the admin-only account endpoints.
func (s *Server) accountRoutes(r *gin.Engine) {
	r.POST("/api/auth/invitations", s.authenticate, s.requireAdmin, s.invite)
	r.POST("/api/admin/users/:user_id/role", s.authenticate, s.requireAdmin, s.setRole)
	r.DELETE("/api/admin/users/:user_id", s.authenticate, s.requireAdmin, s.deleteUser)
}

func (s *Server) accounts(c *gin.Context) (accountAdmin, bool) {
	a, ok := s.d.Auth.(accountAdmin)
	if !ok {
		fail(c, apperr.New(apperr.NotFound, "account administration is not available"))
	}
	return a, ok
}

func (s *Server) requireAdmin(c *gin.Context) {
	if !claims(c).CanControlAll() {
		fail(c, apperr.New(apperr.Forbidden, "only an admin may do this"))
		return
	}
	c.Next()
}

// failRegistration answers a refused registration with its specific code
// (registration_closed, invitation_required, invitation_invalid).
func failRegistration(c *gin.Context, err error) {
	if reason, ok := auth.RegistrationReason(err); ok {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"detail": apperr.Message(err), "code": reason})
		return
	}
	fail(c, err)
}

func (s *Server) register(c *gin.Context) {
	var req registerRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	var u auth.User
	var err error
	if a, ok := s.d.Auth.(accountAdmin); ok {
		u, err = a.RegisterInvited(c.Request.Context(), req.Email, req.Password, req.FullName, req.Invitation)
	} else {
		u, err = s.d.Auth.Register(c.Request.Context(), req.Email, req.Password, req.FullName)
	}
	if err != nil {
		failRegistration(c, err)
		return
	}
	c.JSON(http.StatusCreated, u)
}

type inviteRequest struct {
	Email string    `json:"email"`
	Role  auth.Role `json:"role"`
}

func (s *Server) invite(c *gin.Context) {
	a, ok := s.accounts(c)
	if !ok {
		return
	}
	var req inviteRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	inv, err := a.Invite(c.Request.Context(), claims(c).UserID, req.Email, req.Role)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, inv)
}

type roleRequest struct {
	Role auth.Role `json:"role"`
}

func (s *Server) setRole(c *gin.Context) {
	a, ok := s.accounts(c)
	if !ok {
		return
	}
	var req roleRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	u, err := a.SetRole(c.Request.Context(), c.Param("user_id"), req.Role)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

func (s *Server) deleteUser(c *gin.Context) {
	a, ok := s.accounts(c)
	if !ok {
		return
	}
	id := c.Param("user_id")
	u, _ := s.d.Auth.User(c.Request.Context(), id)
	if err := s.lastAdminOf(u); err != nil {
		fail(c, err)
		return
	}
	if err := a.DeleteUser(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	s.leaveOrgs(c, u)
	c.JSON(http.StatusOK, gin.H{"message": "user deleted; their access tokens are revoked"})
}

// lastAdminOf refuses to delete the last admin of an organisation, as the
// organisation refuses to let its last admin leave: its membership names
// the account, so no other account could ever administer it again.
func (s *Server) lastAdminOf(u auth.User) error {
	if s.d.OrgDirectory == nil || u.ID == "" || u.Email == "" {
		return nil
	}
	for orgID, role := range s.d.OrgDirectory.Roles(u.ID, u.Email) {
		if role != org.RoleAdmin {
			continue
		}
		admins := 0
		for _, m := range s.d.OrgDirectory.Members(orgID) {
			if m.Role == org.RoleAdmin {
				admins++
			}
		}
		if admins == 1 {
			return apperr.New(apperr.Conflict, "%s is the last admin of organisation %s; make another member its admin first", u.Email, orgID)
		}
	}
	return nil
}

// leaveOrgs removes a deleted account's memberships: left in place, they
// went to whoever registered its address next (a membership added before
// the account existed names no account), and the member lists named an
// account that no longer was. A removal its organisation refuses (a last
// admin made meanwhile) is logged.
func (s *Server) leaveOrgs(c *gin.Context, u auth.User) {
	if s.d.OrgCommands == nil || s.d.OrgDirectory == nil || u.ID == "" || u.Email == "" {
		return
	}
	var last uint64
	for orgID := range s.d.OrgDirectory.Roles(u.ID, u.Email) {
		res, err := s.d.OrgCommands.Change(c.Request.Context(), orgID, org.Command{Action: org.ActionRemove,
			By: events.System, Email: u.Email, Reason: events.ReasonAccountDeleted})
		if err != nil {
			s.d.Log.Warn("a deleted account's membership was kept", "org_id", orgID, "user_id", u.ID, "err", err)
			continue
		}
		last = max(last, res.Seq)
	}
	s.orgWritten(c, last)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	// The TCP peer, not X-Forwarded-For: a header would let a guesser
	// pick a fresh address for every attempt.
	ctx := auth.WithClientAddr(c.Request.Context(), c.RemoteIP())
	u, tokens, err := s.d.Auth.Login(ctx, req.Email, req.Password)
	if err != nil {
		if secs, ok := auth.RetryAfter(err); ok {
			c.Header("Retry-After", strconv.Itoa(secs))
		}
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"user": u, "tokens": tokens})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) refresh(c *gin.Context) {
	var req refreshRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	tokens, err := s.d.Auth.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, tokens)
}

func (s *Server) logout(c *gin.Context) {
	var req refreshRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	if err := s.d.Auth.Logout(c.Request.Context(), req.RefreshToken); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "logged out"})
}

func (s *Server) me(c *gin.Context) {
	u, err := s.d.Auth.User(c.Request.Context(), claims(c).UserID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

func (s *Server) jwks(c *gin.Context) {
	b, err := s.d.Auth.JWKS()
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", b)
}

// authenticate requires a valid access token in the Authorization header.
// (Only the job streams also take ?token=, since browsers cannot set
// headers on WebSockets and EventSource.)
func (s *Server) authenticate(c *gin.Context) {
	token := bearer(c.GetHeader("Authorization"))
	if token == "" {
		fail(c, apperr.New(apperr.Unauthorized, "missing bearer token"))
		return
	}
	cl, err := s.d.Auth.Verify(c.Request.Context(), token)
	if err != nil {
		fail(c, err)
		return
	}
	s.setClaims(c, cl)
	c.Next()
}

func bearer(h string) string {
	const prefix = "bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

func claims(c *gin.Context) auth.Claims {
	v, _ := c.Get(claimsKey)
	cl, _ := v.(auth.Claims)
	return cl
}

// setClaims records the verified bearer and its organisation roles,
// looked up now so a role changed a moment ago applies to this request.
func (s *Server) setClaims(c *gin.Context, cl auth.Claims) {
	c.Set(claimsKey, cl)
	if s.d.OrgDirectory != nil {
		c.Set(orgRolesKey, s.d.OrgDirectory.Roles(cl.UserID, cl.Email))
	}
}

// caller turns the verified claims into the services' view of the caller.
func caller(c *gin.Context) services.Caller {
	cl := claims(c)
	roles, _ := c.Value(orgRolesKey).(map[string]string)
	return services.Caller{
		Actor:      events.User(cl.UserID, cl.Email),
		ControlAll: cl.CanControlAll(),
		ReadAll:    cl.CanReadAll(),
		Orgs:       roles,
	}
}
