package services

import (
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
)

func TestOwnerScopedJobID(t *testing.T) {
	a := OwnerScopedJobID("usr_a", "nightly")
	if a != OwnerScopedJobID("usr_a", "nightly") {
		t.Fatal("not deterministic: an identical retry would start a second job")
	}
	if b := OwnerScopedJobID("usr_b", "nightly"); b == a {
		t.Fatal("two owners share a job id")
	}
	if !strings.HasPrefix(a, "nightly-") || !events.ValidJobID(a) {
		t.Fatalf("id %q", a)
	}
	long := strings.Repeat("x", 64)
	if id := OwnerScopedJobID("usr_a", long); len(id) != 64 || !events.ValidJobID(id) {
		t.Fatalf("long id %q (%d)", id, len(id))
	}
	// Ids that differ only after the kept prefix still differ.
	if OwnerScopedJobID("usr_a", long) == OwnerScopedJobID("usr_a", long[:63]+"y") {
		t.Fatal("truncation merged two ids")
	}
	// The owner/id boundary is unambiguous: ("usr_ab", "c") and
	// ("usr_a", "bc") must not share the hash part.
	x, y := OwnerScopedJobID("usr_ab", "c"), OwnerScopedJobID("usr_a", "bc")
	if x[len(x)-24:] == y[len(y)-24:] {
		t.Fatal("ambiguous derivation")
	}
}
