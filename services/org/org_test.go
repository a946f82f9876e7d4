package org

import (
	"errors"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
)

// fold applies decided events as the log would store them.
func fold(t *testing.T, s *State, by events.Actor, evs []events.Event) {
	t.Helper()
	for _, ev := range evs {
		env, err := events.New(s.ID, by, ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Seq = s.Seq + 1
		env.Time = time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
		if err := s.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDecideMembershipRules(t *testing.T) {
	admin := events.User("u-admin", "Admin@Example.org")
	mem := events.User("u-mem", "mem@example.org")
	s := New("org_1")
	evs, err := Decide(s, Command{Action: ActionCreate, By: admin, Name: "  Records  "})
	if err != nil || len(evs) != 1 {
		t.Fatalf("create: %v %v", evs, err)
	}
	fold(t, s, admin, evs)
	if s.Name != "Records" || s.Role("admin@example.org") != RoleAdmin {
		t.Fatalf("after create: %+v", s)
	}
	add := func(by events.Actor, email, role string) error {
		evs, err := Decide(s, Command{Action: ActionAdd, By: by, Email: email, Role: role})
		if err == nil {
			fold(t, s, by, evs)
		}
		return err
	}
	for _, c := range []struct {
		name string
		err  error
		code string
	}{
		{"add member", add(admin, "mem@example.org", RoleMember), ""},
		{"twice", add(admin, "MEM@example.org", RoleAuditor), apperr.Conflict},
		{"bad role", add(admin, "x@example.org", "owner"), apperr.Invalid},
		{"bad email", add(admin, "not-an-address", RoleMember), apperr.Invalid},
		{"member may not add", add(mem, "y@example.org", RoleMember), apperr.Forbidden},
		{"stranger sees nothing", add(events.User("u-x", "x@example.org"), "y@example.org", RoleMember), apperr.NotFound},
	} {
		if got := apperr.Code(c.err); (c.code == "" && c.err != nil) || (c.code != "" && got != c.code) {
			t.Errorf("%s: %v (code %q), want %q", c.name, c.err, got, c.code)
		}
	}
	// The last admin can neither step down nor leave.
	if _, err := Decide(s, Command{Action: ActionRole, By: admin, Email: "admin@example.org", Role: RoleMember}); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("last admin demoted: %v", err)
	}
	if _, err := Decide(s, Command{Action: ActionRemove, By: admin, Email: "admin@example.org"}); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("last admin removed: %v", err)
	}
	// Same role: nothing to record.
	if evs, err := Decide(s, Command{Action: ActionRole, By: admin, Email: "mem@example.org", Role: RoleMember}); err != nil || len(evs) != 0 {
		t.Fatalf("no-op role change: %v %v", evs, err)
	}
	// A member may leave on its own.
	evs, err = Decide(s, Command{Action: ActionRemove, By: mem, Email: "mem@example.org"})
	if err != nil {
		t.Fatalf("leave: %v", err)
	}
	fold(t, s, mem, evs)
	if s.Role("mem@example.org") != "" {
		t.Fatal("member still there after leaving")
	}
}

// Settings are an admin's: a bad retention period names its field, an
// unchanged value records nothing, and the event carries the whole set.
func TestDecideSettings(t *testing.T) {
	admin := events.User("u-admin", "admin@example.org")
	s := New("org_1")
	evs, _ := Decide(s, Command{Action: ActionCreate, By: admin, Name: "Records"})
	fold(t, s, admin, evs)
	evs, _ = Decide(s, Command{Action: ActionAdd, By: admin, Email: "op@example.org", Role: RoleOperator})
	fold(t, s, admin, evs)
	days := func(n int) *int { return &n }
	url := func(u string) *string { return &u }

	if _, err := Decide(s, Command{Action: ActionSettings, By: events.User("u-op", "op@example.org"), RetentionDays: days(3)}); apperr.Code(err) != apperr.Forbidden {
		t.Fatalf("operator changed settings: %v", err)
	}
	if _, err := Decide(s, Command{Action: ActionSettings, By: events.User("u-x", "x@example.org"), RetentionDays: days(3)}); apperr.Code(err) != apperr.NotFound {
		t.Fatalf("stranger: %v", err)
	}
	for _, bad := range []int{-1, MaxRetentionDays + 1} {
		_, err := Decide(s, Command{Action: ActionSettings, By: admin, RetentionDays: days(bad)})
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != "retention_days" {
			t.Fatalf("retention_days %d: %v", bad, err)
		}
	}
	evs, err := Decide(s, Command{Action: ActionSettings, By: admin, RetentionDays: days(30), CallbackURL: url(" https://hooks.example.org/x ")})
	if err != nil || len(evs) != 1 {
		t.Fatalf("set: %v %v", evs, err)
	}
	fold(t, s, admin, evs)
	if s.Settings != (Settings{RetentionDays: 30, CallbackURL: "https://hooks.example.org/x"}) {
		t.Fatalf("settings %+v", s.Settings)
	}
	// Only the URL changes: the event still holds the retention period.
	evs, _ = Decide(s, Command{Action: ActionSettings, By: admin, RetentionDays: days(30), CallbackURL: url("")})
	if e := evs[0].(events.OrgSettingsChanged); e.RetentionDays != 30 || e.CallbackURL != "" || len(e.Changed) != 1 || e.Changed[0] != "callback_url" {
		t.Fatalf("partial change: %+v", e)
	}
	fold(t, s, admin, evs)
	if evs, err := Decide(s, Command{Action: ActionSettings, By: admin, RetentionDays: days(30)}); err != nil || len(evs) != 0 {
		t.Fatalf("no-op: %v %v", evs, err)
	}
}

// A member's email is refused with characters that make two addresses
// look alike, as registration refuses them.
func TestCheckEmailRefusesInvisibleCharacters(t *testing.T) {
	for _, bad := range []string{"a\u200bb@example.com", "ab@exa\u200dmple.com", "a b@example.com", "a\x00b@example.com", "\u202eab@example.com"} {
		if CheckEmail(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := CheckEmail("रमेश@example.com"); err != nil {
		t.Errorf("a Devanagari address: %v", err)
	}
}
