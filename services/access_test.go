package services

import (
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// TestJobAccessPolicy is the policy's table: owner, each organisation
// role, another organisation, the global roles in and outside organisations.
func TestJobAccessPolicy(t *testing.T) {
	in := func(role string) Caller {
		return Caller{Actor: events.User("u-2", "two@example.org"), Orgs: map[string]string{"org_a": role}}
	}
	globalAdmin := Caller{Actor: events.User("u-9", "g@example.org"), ControlAll: true, ReadAll: true}
	globalAuditor := Caller{Actor: events.User("u-8", "a@example.org"), ReadAll: true}
	owner := Caller{Actor: events.User("u-1", "one@example.org")}
	for _, c := range []struct {
		name   string
		caller Caller
		org    string
		want   Access
	}{
		{"owner in org", owner, "org_a", AccessControl},
		{"owner outside orgs", owner, "", AccessControl},
		{"org admin", in("admin"), "org_a", AccessControl},
		{"org operator", in("operator"), "org_a", AccessControl},
		{"org auditor", in("auditor"), "org_a", AccessRead},
		{"org member, other's job", in("member"), "org_a", AccessNone},
		{"admin of another org", Caller{Actor: events.User("u-3", ""), Orgs: map[string]string{"org_b": "admin"}}, "org_a", AccessNone},
		{"global admin, org job", globalAdmin, "org_a", AccessNone},
		{"global auditor, org job", globalAuditor, "org_a", AccessNone},
		{"global admin, plain job", globalAdmin, "", AccessControl},
		{"global auditor, plain job", globalAuditor, "", AccessRead},
		{"org operator, plain job", in("operator"), "", AccessNone},
	} {
		if got := JobAccess(c.caller, "u-1", c.org); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if code := apperr.Code(CheckControl(in("auditor"), "j", "u-1", "org_a")); code != apperr.Forbidden {
		t.Errorf("auditor control: %s, want forbidden", code)
	}
	if code := apperr.Code(CheckControl(in("member"), "j", "u-1", "org_a")); code != apperr.NotFound {
		t.Errorf("member control of another's job: %s, want not found", code)
	}
	for role, code := range map[string]string{"member": "", "operator": "", "admin": "", "auditor": apperr.Forbidden, "": apperr.NotFound} {
		if got := apperr.Code(CheckStartIn(in(role), "org_a")); got != code && !(code == "" && got == "") {
			t.Errorf("start as %q: %q, want %q", role, got, code)
		}
	}
}

// Erasure: the owner, the job's admin (the organisation's for its jobs,
// the global one for others) and the system (retention); legal hold:
// admins only. Who cannot read the job gets 404, who reads it 403.
func TestEraseAndLegalHoldAccess(t *testing.T) {
	in := func(role string) Caller {
		return Caller{Actor: events.User("u-2", "two@example.org"), Orgs: map[string]string{"org_a": role}}
	}
	owner := Caller{Actor: events.User("u-1", "one@example.org")}
	globalAdmin := Caller{Actor: events.User("u-9", "g@example.org"), ControlAll: true, ReadAll: true}
	system := Caller{Actor: events.System}
	for _, c := range []struct {
		name        string
		caller      Caller
		org         string
		erase, hold string // apperr codes, "" allowed
	}{
		{"owner", owner, "org_a", "", apperr.Forbidden},
		{"owner outside orgs", owner, "", "", apperr.Forbidden},
		{"org admin", in("admin"), "org_a", "", ""},
		{"org operator", in("operator"), "org_a", apperr.Forbidden, apperr.Forbidden},
		{"org auditor", in("auditor"), "org_a", apperr.Forbidden, apperr.Forbidden},
		{"org member", in("member"), "org_a", apperr.NotFound, apperr.NotFound},
		{"global admin, plain job", globalAdmin, "", "", ""},
		{"global admin, org job", globalAdmin, "org_a", apperr.NotFound, apperr.NotFound},
		{"system (retention)", system, "org_a", "", apperr.NotFound},
	} {
		if got := apperr.Code(CheckErase(c.caller, "j", "u-1", c.org)); got != c.erase {
			t.Errorf("%s erase: %q, want %q", c.name, got, c.erase)
		}
		if got := apperr.Code(CheckLegalHold(c.caller, "j", "u-1", c.org)); got != c.hold {
			t.Errorf("%s hold: %q, want %q", c.name, got, c.hold)
		}
	}
}
