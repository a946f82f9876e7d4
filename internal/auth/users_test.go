package auth

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/tagstream/tagstream/internal/apperr"
)

func TestRegisterLoginMe(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()

	u, err := f.svc.Register(ctx, "  Alice@Example.COM ", "correct horse", "  Alice Liddell ")
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if u.Email != "alice@example.com" || u.FullName != "Alice Liddell" || u.Role != RoleUser {
		t.Fatalf("unexpected user %+v", u)
	}
	if !strings.HasPrefix(u.ID, "usr_") || !validUserID(u.ID) {
		t.Fatalf("bad id %q", u.ID)
	}
	if !u.CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("created_at %v, want %v", u.CreatedAt, f.clock.Now())
	}
	// The public view must not carry the hash in any form.
	b, _ := json.Marshal(u)
	if strings.Contains(string(b), "hash") || strings.Contains(string(b), "$2a$") {
		t.Fatalf("user JSON leaks the hash: %s", b)
	}

	lu, tok, err := f.svc.Login(ctx, "ALICE@example.com", "correct horse")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if lu != u {
		t.Fatalf("login user %+v != registered %+v", lu, u)
	}
	if tok.TokenType != "bearer" || tok.ExpiresIn != 900 || tok.AccessToken == "" || !strings.HasPrefix(tok.RefreshToken, "rt_") {
		t.Fatalf("unexpected tokens %+v", tok)
	}

	c, err := f.svc.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c != (Claims{UserID: u.ID, Email: u.Email, Role: RoleUser}) || c.CanReadAll() || c.CanControlAll() {
		t.Fatalf("unexpected claims %+v", c)
	}

	me, err := f.svc.User(ctx, c.UserID)
	if err != nil || me != u {
		t.Fatalf("User(me) = %+v, %v; want %+v", me, err, u)
	}
	_, err = f.svc.User(ctx, "usr_"+strings.Repeat("0", 32))
	wantCode(t, err, apperr.NotFound)
	for _, id := range []string{"", "usr_>", "usr_*", "id.x", "usr_" + strings.Repeat("A", 32)} {
		_, err = f.svc.User(ctx, id)
		wantCode(t, err, apperr.NotFound)
	}
}

func TestRegisterValidation(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	cases := []struct {
		name, email, password, fullName, field string
	}{
		{"empty email", "", "correct horse", "", "email"},
		{"no at", "alice.example.com", "correct horse", "", "email"},
		{"no domain dot", "alice@localhost", "correct horse", "", "email"},
		{"display name", "Alice <alice@example.com>", "correct horse", "", "email"},
		{"space inside", "ali ce@example.com", "correct horse", "", "email"},
		{"two ats", "a@b@example.com", "correct horse", "", "email"},
		{"too long", strings.Repeat("a", 250) + "@example.com", "correct horse", "", "email"},
		{"short password", "a@example.com", "1234567", "", "password"},
		{"password over 72 bytes", "a@example.com", strings.Repeat("p", 73), "", "password"},
		{"long name", "a@example.com", "correct horse", strings.Repeat("n", 201), "full_name"},
		{"invalid utf8 name", "a@example.com", "correct horse", "\xff\xfe", "full_name"},
		{"name with a NUL", "a@example.com", "correct horse", "Ann\x00 Lee", "full_name"},
		{"name with a direction override", "a@example.com", "correct horse", "Ann \u202egnp.exe", "full_name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Register(ctx, tc.email, tc.password, tc.fullName)
			wantCode(t, err, apperr.Invalid)
			var ae *apperr.Error
			_ = asAppErr(err, &ae)
			if ae.Field != tc.field {
				t.Fatalf("field %q, want %q", ae.Field, tc.field)
			}
			if strings.Contains(err.Error(), tc.password) {
				t.Fatalf("error echoes the password: %v", err)
			}
		})
	}
	// Boundaries that must pass: exactly 8 characters (multi-byte counts as
	// characters), exactly 72 bytes, 200-character name, no name at all.
	ok := []struct{ email, password, name string }{
		{"b1@example.com", "ééééééééé"[:16], ""},
		{"b2@example.com", strings.Repeat("p", 72), strings.Repeat("ñ", 200)},
		{"b3@sub.example.co.uk", "k7#q9vbz", ""},
	}
	for _, c := range ok {
		if _, err := f.svc.Register(ctx, c.email, c.password, c.name); err != nil {
			t.Fatalf("Register(%q): %v", c.email, err)
		}
	}
}

func TestDuplicateEmail(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.svc.Register(ctx, "dup@example.com", "correct horse", ""); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Register(ctx, " DUP@example.com", "another pass", "")
	wantCode(t, err, apperr.Conflict)
	if apperr.Message(err) != "email already registered" {
		t.Fatalf("message %q", apperr.Message(err))
	}
	// The first password still works: the loser overwrote nothing.
	if _, _, err := f.svc.Login(ctx, "dup@example.com", "correct horse"); err != nil {
		t.Fatalf("Login after conflict: %v", err)
	}
}

func TestConcurrentRegistrationOneWins(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	users := make([]User, n)
	for i := range n {
		wg.Go(func() {
			users[i], errs[i] = f.svc.Register(ctx, "race@example.com", "password-"+strings.Repeat("x", i), "")
		})
	}
	wg.Wait()
	wins := 0
	var winner User
	for i, err := range errs {
		switch apperr.Code(err) {
		case "":
			wins++
			winner = users[i]
		case apperr.Conflict:
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d registrations won, want exactly 1", wins)
	}
	got, err := f.svc.User(ctx, winner.ID)
	if err != nil || got != winner {
		t.Fatalf("winner not retrievable by id: %+v %v", got, err)
	}
}

func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.mustLogin(t, "bob@example.com")
	attempts := []struct{ email, password string }{
		{"bob@example.com", "wrong password"},
		{"nobody@example.com", "correct horse"},
		{"not an email", "correct horse"},
		{"bob@example.com", ""},
		{"bob@example.com", "correct horse" + strings.Repeat("!", 80)},
	}
	for _, a := range attempts {
		_, tok, err := f.svc.Login(ctx, a.email, a.password)
		wantCode(t, err, apperr.Unauthorized)
		if apperr.Message(err) != "invalid email or password" {
			t.Fatalf("Login(%q): message %q", a.email, apperr.Message(err))
		}
		if tok != (Tokens{}) {
			t.Fatalf("tokens returned on failure")
		}
	}
}

// TestRolesOnlyGranted: no address is privileged by registering it; the
// first admin comes from the operator's bootstrap (promotion, or an admin
// invitation for an unregistered address), the others from invitations or
// SetRole.
func TestRolesOnlyGranted(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()

	// An existing account is promoted by the bootstrap.
	early, _ := f.mustLogin(t, "early@example.com")
	u, inv, err := f.svc.Bootstrap(ctx, " EARLY@example.com", RoleAdmin)
	if err != nil || inv != nil || u.ID != early.ID || u.Role != RoleAdmin {
		t.Fatalf("Bootstrap(existing) = %+v, %v, %v", u, inv, err)
	}
	// An unregistered address gets an admin invitation bound to it.
	_, inv, err = f.svc.Bootstrap(ctx, "root@example.com", RoleAdmin)
	if err != nil || inv == nil || inv.Role != RoleAdmin || !strings.HasPrefix(inv.Token, "inv_") {
		t.Fatalf("Bootstrap(new) = %+v, %v", inv, err)
	}
	aud, err := f.svc.Invite(ctx, early.ID, "audit@example.com", RoleAuditor)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		email, invitation string
		role              Role
		read, ctrl        bool
	}{
		{"Root@Example.com", inv.Token, RoleAdmin, true, true},
		{"AUDIT@example.com", aud.Token, RoleAuditor, true, false},
		{"plain@example.com", "", RoleUser, false, false},
	}
	for _, tc := range cases {
		u, err := f.svc.RegisterInvited(ctx, tc.email, "correct horse", "", tc.invitation)
		if err != nil || u.Role != tc.role {
			t.Fatalf("%s: %+v, %v; want role %q", tc.email, u, err, tc.role)
		}
		_, tok, err := f.svc.Login(ctx, tc.email, "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.svc.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if c.Role != tc.role || c.CanReadAll() != tc.read || c.CanControlAll() != tc.ctrl {
			t.Fatalf("%s: claims %+v read=%v ctrl=%v", tc.email, c, c.CanReadAll(), c.CanControlAll())
		}
	}
	// Used invitations are gone.
	_, err = f.svc.RegisterInvited(ctx, "audit2@example.com", "correct horse", "", aud.Token)
	if r, _ := RegistrationReason(err); r != "invitation_invalid" {
		t.Fatalf("reused invitation: %v", err)
	}
}

func TestRegistrationModes(t *testing.T) {
	ctx := context.Background()
	closed := newFixture(t, func(c *Config) { c.Registration = RegistrationClosed })
	_, err := closed.svc.Register(ctx, "a@example.com", "correct horse", "")
	wantCode(t, err, apperr.Forbidden)
	if r, _ := RegistrationReason(err); r != "registration_closed" {
		t.Fatalf("closed: reason %q (%v)", r, err)
	}
	inv, err := closed.svc.Invite(ctx, "operator", "a@example.com", RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	_, err = closed.svc.RegisterInvited(ctx, "a@example.com", "correct horse", "", inv.Token)
	if r, _ := RegistrationReason(err); r != "registration_closed" {
		t.Fatalf("closed with invitation: %v", err)
	}

	f := newFixture(t, func(c *Config) { c.Registration = RegistrationInvite })
	_, err = f.svc.Register(ctx, "b@example.com", "correct horse", "")
	if r, _ := RegistrationReason(err); r != "invitation_required" || apperr.Code(err) != apperr.Forbidden {
		t.Fatalf("invite without invitation: %v", err)
	}
	inv, err = f.svc.Invite(ctx, "operator", "b@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	for name, try := range map[string][2]string{
		"other email":  {"c@example.com", inv.Token},
		"forged token": {"b@example.com", "inv_" + strings.Repeat("A", 43)},
		"garbage":      {"b@example.com", "inv_.*>"},
	} {
		_, err := f.svc.RegisterInvited(ctx, try[0], "correct horse", "", try[1])
		if r, _ := RegistrationReason(err); r != "invitation_invalid" {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Expired invitations are refused.
	late, err := f.svc.Invite(ctx, "operator", "late@example.com", RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.RegisterInvited(ctx, "B@example.com", "correct horse", "", inv.Token)
	if err != nil || u.Role != RoleUser {
		t.Fatalf("invited: %+v, %v", u, err)
	}
	f.clock.Advance(InvitationTTL)
	_, err = f.svc.RegisterInvited(ctx, "late@example.com", "correct horse", "", late.Token)
	if r, _ := RegistrationReason(err); r != "invitation_invalid" {
		t.Fatalf("expired: %v", err)
	}
	if _, err := New(ctx, f.js, Config{KeyDir: f.keyDir, Registration: "maybe"}); apperr.Code(err) != apperr.Invalid {
		t.Fatalf("bad mode: %v", err)
	}
}
