package llmfake

import "time"

// concurrency follows the requests in flight at the fake (every request,
// refused or not), guarded by Server.mu.
type concurrency struct {
	inflight, peak int
	area           float64 // in-flight × seconds, for the time-weighted mean
	first, changed time.Time
}

func (s *Server) moveInFlight(delta int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moveInFlightLocked(delta)
}

func (s *Server) moveInFlightLocked(delta int) {
	c := &s.conc
	now := time.Now()
	if c.first.IsZero() {
		c.first, c.changed = now, now
	}
	c.area += float64(c.inflight) * now.Sub(c.changed).Seconds()
	c.changed = now
	c.inflight += delta
	c.peak = max(c.peak, c.inflight)
}

// Concurrency returns the peak and the time-weighted mean of the requests
// in flight at the fake, from the first request to the last change.
func (s *Server) Concurrency() (peak int, mean float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conc
	if span := c.changed.Sub(c.first).Seconds(); span > 0 {
		mean = c.area / span
	}
	return c.peak, mean
}
