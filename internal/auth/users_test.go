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

func TestRolesFromConfig(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.AdminEmails = []string{" Root@Example.com"}
		c.AuditorEmails = []string{"audit@example.com"}
	})
	ctx := context.Background()
	cases := []struct {
		email      string
		role       Role
		read, ctrl bool
	}{
		{"root@example.com", RoleAdmin, true, true},
		{"AUDIT@example.com", RoleAuditor, true, false},
		{"plain@example.com", RoleUser, false, false},
	}
	for _, tc := range cases {
		u, tok := f.mustLogin(t, tc.email)
		if u.Role != tc.role {
			t.Fatalf("%s: role %q, want %q", tc.email, u.Role, tc.role)
		}
		c, err := f.svc.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if c.Role != tc.role || c.CanReadAll() != tc.read || c.CanControlAll() != tc.ctrl {
			t.Fatalf("%s: claims %+v read=%v ctrl=%v", tc.email, c, c.CanReadAll(), c.CanControlAll())
		}
	}
}
