package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// health is liveness plus readiness: 503 while NATS is unreachable, so a
// load balancer stops sending requests that would fail anyway.
func (s *Server) health(c *gin.Context) {
	if s.d.Healthy != nil && !s.d.Healthy() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "nats": "disconnected"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "nats": "connected"})
}

func (s *Server) status(c *gin.Context) {
	nats := "connected"
	if s.d.Healthy != nil && !s.d.Healthy() {
		nats = "disconnected"
	}
	c.JSON(http.StatusOK, gin.H{"service": "tagstream", "version": s.d.Version, "nats": nats,
		"uptime_seconds": int(time.Since(s.started).Seconds()), "server_has_key": s.d.ServerHasKey})
}
