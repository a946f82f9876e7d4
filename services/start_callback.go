package services

import (
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/webhook"
)

// WithCallbacks lets jobs name a callback_url: enabled when the server
// has a webhook secret to sign with; allowPrivate also lets callbacks use
// plain http and private addresses (TAGSTREAM_FETCH_ALLOW_PRIVATE).
func (h StartJobHandler) WithCallbacks(enabled, allowPrivate bool) StartJobHandler {
	h.callbacks, h.callbacksPrivate = enabled, allowPrivate
	return h
}

// callbackURL checks the job's callback URL at start, so a job never
// runs toward a webhook that could not be sent. Addresses of a host
// name are checked again on every delivery.
func (h StartJobHandler) callbackURL(cfg *events.JobConfig, in StartConfig) error {
	raw := strings.TrimSpace(in.CallbackURL)
	if raw == "" {
		return nil
	}
	if !h.callbacks {
		return apperr.Field("config.callback_url", "this server sends no webhooks: it has no TAGSTREAM_WEBHOOK_SECRET configured")
	}
	if err := webhook.CheckURL(raw, h.callbacksPrivate); err != nil {
		return apperr.Field("config.callback_url", "%v", err)
	}
	cfg.CallbackURL = raw
	return nil
}
