package org

import (
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
