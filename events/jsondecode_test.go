package events

import (
	"encoding/json"
	"testing"
)

// decodes counts panicsOnce's decodes: the first (goccy's) panics, the
// next (encoding/json's) works, as a decoder bug would behave.
var decodes int

type panicsOnce struct{ X int }

func (p *panicsOnce) UnmarshalJSON(b []byte) error {
	decodes++
	if decodes == 1 {
		var s []int
		_ = s[len(b)] // index out of range, as in goccy/go-json#604
	}
	type plain panicsOnce
	return json.Unmarshal(b, (*plain)(p))
}

type withBug struct {
	Name string      `json:"name"`
	Bug  *panicsOnce `json:"bug"`
	Rest string      `json:"rest"`
}

// A panic inside the fast decoder becomes encoding/json's answer for the
// same bytes: a value when they are JSON, an error when they are not.
func TestDecoderPanicFallsBackToEncodingJSON(t *testing.T) {
	decodes = 0
	var v withBug
	err := decodeJSON([]byte(`{"name":"a","bug":{"X":7},"rest":"b"}`), &v)
	if err != nil || v.Name != "a" || v.Rest != "b" || v.Bug == nil || v.Bug.X != 7 {
		t.Fatalf("decode after a panic = %+v, %v; want name a, bug 7, rest b", v, err)
	}
	if decodes != 2 {
		t.Fatalf("decodes = %d, want 2 (one panicked, one answered)", decodes)
	}
	decodes = 0
	var w withBug
	if err := decodeJSON([]byte(`{"name":"a","bug":{"X":7},"rest":`), &w); err == nil {
		t.Fatalf("truncated input decoded to %+v", w)
	}
}
