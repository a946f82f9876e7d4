package services

import (
	"context"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services/org"
)

// orgMaker returns a function that creates an organisation as boss and
// waits until the directory has it.
func orgMaker(ctx context.Context, t *testing.T, h OrgHandler, dir *OrgDirectory, boss events.Actor) func(string) string {
	return func(name string) string {
		t.Helper()
		res, err := h.Create(ctx, boss, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := dir.WaitFor(ctx, res.Seq); err != nil {
			t.Fatal(err)
		}
		return res.OrgID
	}
}

// The provider's claims manage the memberships they made: a new account
// role changes the organisation role, an ambiguous name joins nothing,
// and an admin's membership keeps the admin's role.
func TestSSOMembershipsFollowTheClaims(t *testing.T) {
	ctx, store, h, dir := orgRig(t)
	go func() { _ = dir.Run(ctx, store) }()
	boss := events.User("u-boss", "boss@example.org")
	mk := orgMaker(ctx, t, h, dir, boss)
	a, b, twin1, twin2 := mk("Alpha"), mk("Beta"), mk("Twin"), mk("twin")
	r, err := h.Change(ctx, b, org.Command{Action: org.ActionAdd, By: boss, Email: "ravi@example.org", Role: org.RoleOperator})
	if err != nil {
		t.Fatal(err)
	}
	_ = dir.WaitFor(ctx, r.Seq)
	sync := NewSSOMemberships(h, dir, map[string]string{"grp-a": "alpha"}, nil)

	if err := sync.Sync(ctx, "u-ravi", "Ravi@example.org", "user", []string{"grp-a", b, "Twin"}); err != nil {
		t.Fatal(err)
	}
	got := dir.MemberOf("ravi@example.org")
	if got[a].Role != org.RoleMember || !got[a].SSO || got[b].Role != org.RoleOperator || got[b].SSO {
		t.Fatalf("after the first sign-in: %+v", got)
	}
	if _, in := got[twin1]; in {
		t.Fatal("joined an organisation by an ambiguous name")
	}
	if _, in := got[twin2]; in {
		t.Fatal("joined an organisation by an ambiguous name")
	}
	// The provider now makes the user an auditor.
	if err := sync.Sync(ctx, "u-ravi", "ravi@example.org", "auditor", []string{"grp-a", b}); err != nil {
		t.Fatal(err)
	}
	if got := dir.MemberOf("ravi@example.org"); got[a].Role != org.RoleAuditor || got[b].Role != org.RoleOperator {
		t.Fatalf("after the role changed: %+v", got)
	}
	// Signing in again with the same claims records nothing.
	before, _ := store.LastSeq(ctx)
	if err := sync.Sync(ctx, "u-ravi", "ravi@example.org", "auditor", []string{"grp-a", b}); err != nil {
		t.Fatal(err)
	}
	if after, _ := store.LastSeq(ctx); after != before {
		t.Fatalf("an unchanged sign-in appended %d events", after-before)
	}
}

// A sign-in changes only memberships of its own account: where another
// account with the same address (a password account, another provider
// subject) holds one, the claims neither change its role nor remove it,
// and an organisation free of the address is joined as usual.
func TestSSOSyncLeavesOtherAccountsMembershipsAlone(t *testing.T) {
	ctx, store, h, dir := orgRig(t)
	go func() { _ = dir.Run(ctx, store) }()
	boss := events.User("u-boss", "boss@example.org")
	mk := orgMaker(ctx, t, h, dir, boss)
	alpha, beta, delta, gamma := mk("Alpha"), mk("Beta"), mk("Delta"), mk("Gamma")
	const email = "shared@example.org"
	r, err := h.Change(ctx, alpha, org.Command{Action: org.ActionAdd, By: boss, Email: email, Role: org.RoleOperator, UserID: "u-password"})
	if err != nil {
		t.Fatal(err)
	}
	_ = dir.WaitFor(ctx, r.Seq)
	sync := NewSSOMemberships(h, dir, nil, nil)
	if err := sync.Sync(ctx, "u-subject-1", email, "user", []string{beta, delta}); err != nil {
		t.Fatal(err)
	}
	before := dir.MemberOf(email)

	if err := sync.Sync(ctx, "u-subject-2", email, "auditor", []string{alpha, beta, gamma}); err != nil {
		t.Fatal(err)
	}
	got := dir.MemberOf(email)
	for _, id := range []string{alpha, beta, delta} {
		if got[id] != before[id] {
			t.Errorf("another account's membership changed: %+v -> %+v", before[id], got[id])
		}
	}
	if m := got[gamma]; m.UserID != "u-subject-2" || m.Role != org.RoleAuditor || !m.SSO {
		t.Errorf("the organisation free of the address: %+v", m)
	}
	if before[beta].UserID != "u-subject-1" || before[delta].Role != org.RoleMember || before[alpha].UserID != "u-password" {
		t.Fatalf("setup: %+v", before)
	}
}
