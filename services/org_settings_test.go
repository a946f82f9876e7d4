package services

import (
	"errors"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// An organisation's default callback_url passes a job's checks: refused
// on a server with no webhook secret, and without private addresses
// unless they are allowed; refused changes record nothing.
func TestOrgDefaultCallbackIsCheckedLikeAJobs(t *testing.T) {
	ctx, store, h, _ := orgRig(t)
	admin := events.User("u-1", "ana@example.org")
	res, err := h.Create(ctx, admin, "Hooks")
	if err != nil {
		t.Fatal(err)
	}
	set := func(h OrgHandler, u string) error {
		_, err := h.ChangeSettings(ctx, res.OrgID, admin, SettingsChange{CallbackURL: &u})
		return err
	}
	before, _ := store.LastSeq(ctx)
	for name, err := range map[string]error{
		"no secret":     set(h, "https://hooks.example.org/x"),
		"private":       set(h.WithCallbacks(true, false), "https://127.0.0.1/x"),
		"plain http":    set(h.WithCallbacks(true, false), "http://hooks.example.org/x"),
		"not a URL":     set(h.WithCallbacks(true, true), "hooks"),
		"with password": set(h.WithCallbacks(true, true), "https://a:b@hooks.example.org/x"),
	} {
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field != "callback_url" {
			t.Errorf("%s: %v, want a 400 naming callback_url", name, err)
		}
	}
	if after, _ := store.LastSeq(ctx); after != before {
		t.Fatal("a refused change was recorded")
	}
	if err := set(h.WithCallbacks(true, true), "http://127.0.0.1:9/x"); err != nil {
		t.Fatalf("allowed private callback: %v", err)
	}
}
