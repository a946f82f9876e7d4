package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/projections"
)

// RequestObserver records request durations (the metrics registry
// implements it). route is gin's template ("" when nothing matched), so
// job ids in paths never reach it.
type RequestObserver interface {
	ObserveRequest(route string, status int, d time.Duration)
}

// check is one readiness condition in the /api/ready body.
type check struct {
	OK       bool   `json:"ok"`
	Degraded bool   `json:"degraded,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// ready is readiness for load balancers and orchestrators, stricter than
// health: 200 only when NATS is connected and the read models have applied
// everything that was in the log when the process started, since before
// that status and results answers would be stale. 503 names the failed
// checks. Public, like /api/health: probes carry no token.
//
// Events skipped because a newer release wrote them make the process
// "degraded", still 200: it serves every other job correctly, and taking
// it out of rotation would turn one foreign event into an outage. The
// status and the "events" check tell operators to upgrade it.
func (s *Server) ready(c *gin.Context) {
	checks := map[string]check{"nats": {OK: true}, "read_models": {OK: true}, "events": {OK: true}}
	if s.d.Healthy != nil && !s.d.Healthy() {
		checks["nats"] = check{Detail: "disconnected"}
	}
	if s.d.CaughtUp != nil {
		if applied, target := s.d.CaughtUp(); applied < target {
			checks["read_models"] = check{Detail: "catching up with the log: applied " +
				itoa(applied) + " of " + itoa(target) + " events present at startup"}
		}
	}
	status := "ready"
	var models []projections.ModelStatus
	if s.d.Projections != nil {
		models = s.d.Projections(c.Request.Context())
		// A failed model answers 503 for its own reads; the others serve,
		// so the process stays in rotation, degraded, and says which.
		var failed, behind []string
		for _, m := range models {
			switch {
			case m.State == projections.StateFailed:
				failed = append(failed, m.Name+" at seq "+itoa(m.FailedSeq)+": "+m.Reason)
			case m.State == projections.StateRunning && m.LagEvents > 0 && m.LagSeconds > staleAfter.Seconds():
				behind = append(behind, fmt.Sprintf("%s %d events, %.0f s", m.Name, m.LagEvents, m.LagSeconds))
			}
		}
		var details []string
		if len(failed) > 0 {
			details = append(details, "failed: "+strings.Join(failed, "; "))
		}
		if len(behind) > 0 {
			details = append(details, "behind the log: "+strings.Join(behind, "; "))
		}
		checks["projections"] = check{OK: true}
		if len(details) > 0 {
			checks["projections"] = check{OK: true, Degraded: true, Detail: strings.Join(details, "; ")}
			status = "degraded"
		}
	}
	if s.d.Skipped != nil {
		if n, summary := s.d.Skipped(); n > 0 {
			checks["events"] = check{OK: true, Degraded: true, Detail: summary}
			status = "degraded"
		}
	}
	failed := []string{}
	for _, name := range []string{"nats", "read_models"} {
		if !checks[name].OK {
			failed = append(failed, name)
		}
	}
	body := gin.H{"status": status, "checks": checks, "projections": models}
	if s.d.ReadLease != nil {
		// Several processes share the read database: which one applies.
		if l := s.d.ReadLease(); l != nil {
			body["lease"] = l
		}
	}
	if len(failed) > 0 {
		body["status"], body["failed"] = "not_ready", failed
		c.JSON(http.StatusServiceUnavailable, body)
		return
	}
	c.JSON(http.StatusOK, body)
}

// staleAfter is how long a running model may stay behind the log before
// readiness says so ("degraded", still 200): a holder stalled behind a
// stopped one's locks let lag grow to hundreds of events while every
// process said "ready".
const staleAfter = 30 * time.Second

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
