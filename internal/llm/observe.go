package llm

import (
	"context"
	"errors"
	"time"
)

// Observer hears about model calls, for metrics. Implementations must be
// cheap and safe for concurrent use. model is the request's model id as
// given (the observer bounds its cardinality); outcome is "ok" or the
// error Kind of the call.
type Observer interface {
	ModelCall(model, outcome string, d time.Duration)
	ModelTokens(model string, prompt, completion int)
	// RateLimitWait reports a wait scheduled because of pacing, a
	// Retry-After or a 429 backoff; d is the scheduled time, which a
	// cancelled document may cut short.
	RateLimitWait(d time.Duration)
}

type noObserver struct{}

func (noObserver) ModelCall(string, string, time.Duration) {}
func (noObserver) ModelTokens(string, int, int)            {}
func (noObserver) RateLimitWait(time.Duration)             {}

// callOutcome is the bounded outcome label of one call.
func callOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	var e *Error
	if errors.As(err, &e) {
		return string(e.Kind)
	}
	return "error"
}

// pacedSleep is Config.Sleep for pacer waits: every wait a pacer imposes is
// a rate-limit wait, since pacers only hold calls back after a 429 or a
// Retry-After.
func (d *docCall) pacedSleep(ctx context.Context, dur time.Duration) error {
	d.c.cfg.Observer.RateLimitWait(dur)
	return d.c.cfg.Sleep(ctx, dur)
}
