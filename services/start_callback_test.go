package services_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/memstore"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services"
)

type noSecrets struct{}

func (noSecrets) Claim(context.Context, string, string) (bool, error)  { return true, nil }
func (noSecrets) Lookup(context.Context, string) (string, bool, error) { return "", false, nil }
func (noSecrets) Delete(context.Context, string) error                 { return nil }

func startWithCallback(h services.StartJobHandler, url string) (services.StartResult, error) {
	return h.Handle(context.Background(), services.StartJob{
		Caller:    services.Caller{Actor: events.User("u1", "u1@example.com")},
		Documents: []map[string]any{{"file_path": "https://example.org/a.pdf"}},
		Config:    services.StartConfig{Model: services.KeywordsModel, CallbackURL: url},
	})
}

func TestCallbackURLCheckedAtStart(t *testing.T) {
	store := memstore.New()
	public := services.NewStartJobHandler(store, noSecrets{}, 10, false).WithCallbacks(true, false)
	for _, bad := range []string{"http://hooks.example.org/x", "https://127.0.0.1/x", "https://10.1.2.3/x",
		"https://u:p@hooks.example.org/", "ftp://hooks.example.org/", "hooks.example.org/x"} {
		_, err := startWithCallback(public, bad)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field != "config.callback_url" {
			t.Errorf("%q: want a 400 on config.callback_url, got %v", bad, err)
		}
	}
	off := services.NewStartJobHandler(store, noSecrets{}, 10, false)
	if _, err := startWithCallback(off, "https://hooks.example.org/x"); err == nil || !strings.Contains(err.Error(), "TAGSTREAM_WEBHOOK_SECRET") {
		t.Errorf("callbacks without a secret: %v", err)
	}

	res, err := startWithCallback(public, "https://hooks.example.org/x?t=1")
	if err != nil {
		t.Fatal(err)
	}
	last, err := store.Last(context.Background(), events.ControlSubject(res.JobID))
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := last.Decode()
	if st := ev.(*events.JobStarted); st.Config.CallbackURL != "https://hooks.example.org/x?t=1" {
		t.Fatalf("callback not recorded: %+v", st.Config)
	}
	private := services.NewStartJobHandler(store, noSecrets{}, 10, false).WithCallbacks(true, true)
	if _, err := startWithCallback(private, "http://127.0.0.1:9/x"); err != nil {
		t.Fatalf("private allowed: %v", err)
	}
}
