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
	raw, err := checkCallbackURL("config.callback_url", in.CallbackURL, h.callbacks, h.callbacksPrivate)
	cfg.CallbackURL = raw
	return err
}

// checkCallbackURL is the one check of a callback URL, a job's or an
// organisation's default: "" is none; otherwise the server must have a
// secret to sign with and the URL must pass webhook.CheckURL. Errors
// name field.
func checkCallbackURL(field, raw string, enabled, allowPrivate bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if !enabled {
		return "", apperr.Field(field, "this server sends no webhooks: it has no TAGSTREAM_WEBHOOK_SECRET configured")
	}
	if err := webhook.CheckURL(raw, allowPrivate); err != nil {
		return "", apperr.Field(field, "%v", err)
	}
	return raw, nil
}
