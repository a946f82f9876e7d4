package services

import (
	"context"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services/org"
)

// WithCallbacks lets organisations set a default callback_url, under a
// job's rules (see StartJobHandler.WithCallbacks).
func (h OrgHandler) WithCallbacks(enabled, allowPrivate bool) OrgHandler {
	h.callbacks, h.callbacksPrivate = enabled, allowPrivate
	return h
}

// SettingsChange is what an admin asks to change (nil: keep).
type SettingsChange struct {
	RetentionDays *int
	CallbackURL   *string
}

// ChangeSettings checks the default callback URL as a job's would be
// checked at start, then lets the organisation's decider record it.
func (h OrgHandler) ChangeSettings(ctx context.Context, orgID string, by events.Actor, ch SettingsChange) (OrgResult, error) {
	if ch.CallbackURL != nil {
		if _, err := checkCallbackURL("callback_url", *ch.CallbackURL, h.callbacks, h.callbacksPrivate); err != nil {
			return OrgResult{}, err
		}
	}
	return h.Change(ctx, orgID, org.Command{Action: org.ActionSettings, By: by,
		RetentionDays: ch.RetentionDays, CallbackURL: ch.CallbackURL})
}

// OrgCallbackURL is the organisation's default webhook URL ("" for none
// or for an organisation that does not exist), read from the log so
// every process, workers included, sees the latest setting.
func OrgCallbackURL(ctx context.Context, store events.Store, orgID string) (string, error) {
	s, err := LoadOrg(ctx, store, orgID)
	if apperr.Code(err) == apperr.NotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return s.Settings.CallbackURL, nil
}
