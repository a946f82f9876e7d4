package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/webhook"
)

// An organisation admin sets a default callback_url (checked like a
// job's: a bad one is a 400 naming callback_url, only admins may set it);
// a job started in the organisation without its own callback_url is
// delivered there, signed, retried after a failure, with its attempts in
// the delivery log; a job
// with its own callback_url keeps it; the setting is an event in the
// organisation's audit trail.
func TestOrgDefaultWebhook(t *testing.T) {
	secret := webhook.NewSecret()
	orgRecv, jobRecv := newHookReceiver(t, secret), newHookReceiver(t, secret)
	cfg := testConfig(t)
	cfg.WebhookSecret, cfg.AllowPrivate, cfg.webhookRetry = secret, true, 300*time.Millisecond
	e := startEnv(t, cfg, &fakeTagger{})
	admin := e.register("admin@example.com")
	mem := e.register("mem@example.com")
	aud := e.register("aud@example.com")
	org := e.mustCall("POST", "/api/orgs", admin.token, map[string]any{"name": "Hooks"}, 201)["org_id"].(string)
	e.mustCall("POST", "/api/orgs/"+org+"/members", admin.token, map[string]any{"email": mem.email, "role": "member"}, 201)
	e.mustCall("POST", "/api/orgs/"+org+"/members", admin.token, map[string]any{"email": aud.email, "role": "auditor"}, 201)
	settings := "/api/orgs/" + org + "/settings"

	for _, bad := range []any{"ftp://example.org/x", "http://user:pw@example.org/x", 42} {
		st, out := e.call("PATCH", settings, admin.token, map[string]any{"callback_url": bad})
		if st != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out), "callback_url") {
			t.Fatalf("callback_url %v: %d %v", bad, st, out)
		}
	}
	e.mustCall("PATCH", settings, mem.token, map[string]any{"callback_url": orgRecv.url + "/org"}, http.StatusForbidden)
	e.mustCall("PATCH", settings, aud.token, map[string]any{"callback_url": orgRecv.url + "/org"}, http.StatusForbidden)
	outsider := e.register("out@example.com")
	e.mustCall("PATCH", settings, outsider.token, map[string]any{"callback_url": orgRecv.url + "/org"}, http.StatusNotFound)
	out := e.mustCall("PATCH", settings, admin.token, map[string]any{"callback_url": orgRecv.url + "/org"}, http.StatusOK)
	if out["callback_url"] != orgRecv.url+"/org" || out["retention_days"] != float64(0) {
		t.Fatalf("settings after PATCH: %v", out)
	}
	if got := e.mustCall("GET", settings, aud.token, nil, http.StatusOK); got["callback_url"] != orgRecv.url+"/org" {
		t.Fatalf("auditor reads settings: %v", got)
	}
	e.mustCall("GET", settings, mem.token, nil, http.StatusForbidden)

	// A member's job in the organisation without a callback_url; the
	// receiver fails the first delivery, the retry gets through.
	orgRecv.fail.Store(1)
	job := e.startJob(mem, 1, map[string]any{"org_id": org})
	e.waitStatus(mem, job, 30*time.Second, "completed")
	first, _ := orgRecv.next(t)
	d, p := orgRecv.next(t)
	if p["type"] != "job.completed" || p["job_id"] != job || d.header.Get("webhook-id") != first.header.Get("webhook-id") {
		t.Fatalf("org default delivery: %s (ids %q, %q)", d.body, first.header.Get("webhook-id"), d.header.Get("webhook-id"))
	}
	as := e.hookAttempts(job, 2)
	if as[0].Delivered || as[0].StatusCode != http.StatusServiceUnavailable || as[0].NextAt == nil || !as[1].Delivered || as[1].Attempt != 2 {
		t.Fatalf("attempts %+v, %+v", as[0], as[1])
	}
	log := e.mustCall("GET", "/api/batch/jobs/"+job+"/webhooks", aud.token, nil, http.StatusOK)
	if attempts := log["attempts"].([]any); log["callback"] != true || len(attempts) != 2 || attempts[1].(map[string]any)["delivered"] != true {
		t.Fatalf("delivery log: %v", log)
	}

	// A job with its own callback_url goes there, not to the default.
	own := e.mustCall("POST", "/api/batch/start", mem.token, map[string]any{"org_id": org,
		"documents": []map[string]any{{"file_path": "doc-0.pdf"}},
		"config":    map[string]any{"model_name": "builtin/keywords", "callback_url": jobRecv.url + "/job"}}, http.StatusOK)["job_id"].(string)
	e.waitStatus(mem, own, 30*time.Second, "completed")
	if _, p := jobRecv.next(t); p["job_id"] != own {
		t.Fatalf("own callback: %v", p)
	}
	e.firstAttempt(own)
	orgRecv.none(t)

	// The change is in the organisation's audit trail, with its actor.
	trail := e.mustCall("GET", "/api/orgs/"+org+"/events", admin.token, nil, http.StatusOK)["events"].([]any)
	last := trail[len(trail)-1].(map[string]any)
	if last["type"] != "OrgSettingsChanged" || last["actor"].(map[string]any)["email"] != admin.email {
		t.Fatalf("audit trail ends with %v", last)
	}
	// An empty callback_url removes the default.
	if out := e.mustCall("PATCH", settings, admin.token, map[string]any{"callback_url": ""}, http.StatusOK); out["callback_url"] != "" {
		t.Fatalf("after removal: %v", out)
	}
}

// retention_days is set by an organisation admin: a bad value is a 400
// naming the field, a good one shows in the settings and the audit
// trail, and changing it keeps the default webhook.
func TestOrgRetentionSetting(t *testing.T) {
	secret := webhook.NewSecret()
	cfg := testConfig(t)
	cfg.WebhookSecret, cfg.AllowPrivate = secret, true
	e := startEnv(t, cfg, &fakeTagger{})
	admin := e.register("admin@example.com")
	org := e.mustCall("POST", "/api/orgs", admin.token, map[string]any{"name": "Kept"}, 201)["org_id"].(string)
	settings := "/api/orgs/" + org + "/settings"
	e.mustCall("PATCH", settings, admin.token, map[string]any{"callback_url": "http://127.0.0.1:9/hook"}, http.StatusOK)
	for _, bad := range []any{-1, 3651, "30", 1.5} {
		st, out := e.call("PATCH", settings, admin.token, map[string]any{"retention_days": bad})
		if st != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out), "retention_days") {
			t.Fatalf("retention_days %v: %d %v", bad, st, out)
		}
	}
	out := e.mustCall("PATCH", settings, admin.token, map[string]any{"retention_days": 30}, http.StatusOK)
	if out["retention_days"] != float64(30) || out["callback_url"] != "http://127.0.0.1:9/hook" {
		t.Fatalf("after setting retention: %v", out)
	}
	ev := lastOrgEvent(e, org, admin.token)
	if ev["type"] != "OrgSettingsChanged" || ev["data"].(map[string]any)["retention_days"] != float64(30) {
		t.Fatalf("audit trail ends with %v", ev)
	}
	if got := e.mustCall("GET", settings, admin.token, nil, http.StatusOK); got["retention_days"] != float64(30) {
		t.Fatalf("GET settings: %v", got)
	}
}
