package oidc_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/tagstream/tagstream/internal/oidc"
)

// FuzzVerifyRefusesGarbage feeds arbitrary bytes, and mutations of tokens
// signed with the real provider's key, to the verifier: it must answer
// with a Rejected (never a panic, an Unavailable or an acceptance of a
// token whose bytes changed), within the token size budget.
func FuzzVerifyRefusesGarbage(f *testing.F) {
	r := newRig(f, "tagstream")
	kid, _, _ := r.op.Key()
	valid := r.forge(f, jwa.RS256, kid, nil)
	f.Add(valid[:len(valid)-2] + "AA")
	f.Add(r.forge(f, jwa.HS256, kid, nil))
	f.Add(unsigned(f, r.op.Issuer))
	f.Add("a.b.c")
	f.Add(strings.Repeat("A", 20000) + "..")
	f.Add(`eyJhbGciOiJSUzI1NiIsImtpZCI6W119.e30.AA`) // kid is an array
	f.Fuzz(func(t *testing.T, token string) {
		if token == valid {
			return
		}
		_, err := r.p.Verify(context.Background(), token)
		var rej *oidc.Rejected
		if !errors.As(err, &rej) {
			t.Fatalf("Verify(%.80q) = %v; want a rejection", token, err)
		}
		_ = oidc.PeekIssuer(token)
	})
}
