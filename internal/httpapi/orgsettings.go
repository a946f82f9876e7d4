package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/org"
)

// settingsRequest is a partial change: an absent field keeps its value;
// callback_url "" removes the default webhook, retention_days 0 turns
// automatic erasure off.
type settingsRequest struct {
	RetentionDays *int    `json:"retention_days"`
	CallbackURL   *string `json:"callback_url"`
}

func settingsBody(id string, st org.Settings) gin.H {
	return gin.H{"org_id": id, "retention_days": st.RetentionDays, "callback_url": st.CallbackURL}
}

// orgSettings shows the organisation's settings to its admins and
// auditors (the callback URL may carry a receiver's token).
func (s *Server) orgSettings(c *gin.Context) {
	id := c.Param("org_id")
	c.JSON(http.StatusOK, settingsBody(id, s.d.OrgDirectory.Settings(id)))
}

// changeOrgSettings lets an admin set the retention period and the
// default webhook; the organisation's decider says who may.
func (s *Server) changeOrgSettings(c *gin.Context) {
	var req settingsRequest
	if err := decode(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	id := c.Param("org_id")
	res, err := s.d.OrgCommands.ChangeSettings(c.Request.Context(), id, caller(c).Actor,
		services.SettingsChange{RetentionDays: req.RetentionDays, CallbackURL: req.CallbackURL})
	if err != nil {
		fail(c, err)
		return
	}
	s.orgWritten(c, res.Seq)
	c.JSON(http.StatusOK, settingsBody(id, s.d.OrgDirectory.Settings(id)))
}
