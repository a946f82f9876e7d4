package auth

import (
	_ "embed"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tagstream/tagstream/internal/apperr"
)

//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords is the embedded list, lower-cased; guessing attacks try
// these first, so an account protected by one is protected by nothing.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		line = strings.ToLower(strings.TrimSpace(line))
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// checkPassword applies the registration policy; email is canonical.
// Existing accounts are not re-checked at login.
func checkPassword(password, email string) error {
	if !utf8.ValidString(password) {
		return apperr.Field("password", "must be valid UTF-8 text")
	}
	if utf8.RuneCountInString(password) < minPasswordChars {
		return apperr.Field("password", "must be at least %d characters", minPasswordChars)
	}
	if len(password) > maxPasswordBytes {
		return apperr.Field("password", "must be at most %d bytes", maxPasswordBytes)
	}
	if strings.TrimFunc(password, unicode.IsSpace) == "" {
		return apperr.Field("password", "must not be only spaces")
	}
	lower := strings.ToLower(strings.TrimSpace(password))
	if commonPasswords[lower] {
		return apperr.Field("password", "is one of the most common passwords; choose another")
	}
	local, _, _ := strings.Cut(email, "@")
	if lower == email || lower == local || canonicalEmail(password) == email {
		return apperr.Field("password", "must not be your email address")
	}
	return nil
}
