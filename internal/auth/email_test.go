package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/apperr"
)

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	wantCode(t, err, apperr.Invalid)
	var ae *apperr.Error
	_ = asAppErr(err, &ae)
	if ae.Field != field {
		t.Fatalf("field %q, want %q (%v)", ae.Field, field, err)
	}
}

// TestEmailLookAlikes: full-width forms fold to the account they look
// like; zero-width, bidi and mixed-script addresses are refused, so no
// second account can pass for alice@example.com in the audit trail.
func TestEmailLookAlikes(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.svc.Register(ctx, "alice@example.com", "correct horse", ""); err != nil {
		t.Fatal(err)
	}
	// Full-width "ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ" is NFKC-equal: the same account.
	const fullWidth = "\uff41\uff4c\uff49\uff43\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d"
	_, err := f.svc.Register(ctx, fullWidth, "correct horse", "")
	wantCode(t, err, apperr.Conflict)
	if u, _, err := f.svc.Login(ctx, fullWidth, "correct horse"); err != nil || u.Email != "alice@example.com" {
		t.Fatalf("full-width login = %+v, %v", u, err)
	}
	for name, email := range map[string]string{
		"zero-width space":       "ali\u200bce@example.com",
		"zero-width joiner":      "alice\u200d@example.com",
		"zero-width non-joiner":  "al\u200cice@example.com",
		"word joiner":            "alice@exa\u2060mple.com",
		"BOM":                    "\ufeffalice@example.com",
		"soft hyphen":            "ali\u00adce@example.com",
		"RTL override":           "alice@\u202eexample.com",
		"LTR mark":               "alice\u200e@example.com",
		"bidi isolate":           "\u2066alice@example.com",
		"Cyrillic a in local":    "\u0430lice@example.com",
		"Cyrillic e in local":    "alic\u0435@example.com",
		"Cyrillic o in domain":   "alice@ex\u0430mple.com",
		"Cyrillic domain letter": "alice@example.c\u043em",
		"Greek omicron":          "alice@exampl\u03bf.com",
		"variation selector":     "alice\ufe0f@example.com",
		"Hangul filler":          "alice\u3164@example.com",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.Register(ctx, email, "correct horse", "")
			wantField(t, err, "email")
			// Login with a look-alike never reaches alice's account.
			if _, _, err := f.svc.Login(ctx, email, "correct horse"); apperr.Code(err) != apperr.Unauthorized {
				t.Fatalf("login as %q: %v, want unauthorized", email, err)
			}
		})
	}
	// Single-script non-Latin addresses and CJK with Latin are legitimate.
	for _, email := range []string{"иван@пример.рф", "ivan@пример.рф", "山田@example.jp", "やまだ太郎@example.jp", "user1@example.com"} {
		if _, err := f.svc.Register(ctx, email, "correct horse", ""); err != nil {
			t.Errorf("Register(%q): %v", email, err)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for name, pw := range map[string]string{
		"eight spaces":      "        ",
		"tabs and spaces":   " \t \t \t \t",
		"ideographic space": strings.Repeat("\u3000", 8),
		"common":            "password123",
		"common upper":      "PASSWORD123",
		"common padded":     " qwertyuiop ",
		"digits":            "12345678",
		"email itself":      "carol@example.com",
		"email upper":       "CAROL@EXAMPLE.COM",
		"seven":             "abcdxyz",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.Register(ctx, "carol@example.com", pw, "")
			wantField(t, err, "password")
		})
	}
	if len(commonPasswords) < 200 {
		t.Fatalf("common password list has %d entries", len(commonPasswords))
	}
	if _, err := f.svc.Register(ctx, "carol@example.com", "  spaced but real  ", ""); err != nil {
		t.Fatalf("a password with spaces and letters: %v", err)
	}
}
