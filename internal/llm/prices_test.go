package llm

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestPrices(t *testing.T) {
	p, err := ParsePrices("")
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := p.Cost("openai/gpt-4o-mini", 1_000_000, 1_000_000); !ok || math.Abs(c-0.75) > 1e-9 {
		t.Fatalf("default price: %v %v", c, ok)
	}
	if c, ok := p.Cost("acme/unknown", 1000, 1000); ok || c != 0 {
		t.Fatalf("unknown model: %v %v", c, ok)
	}
	p, err = ParsePrices("acme/m1=1/2, openai/gpt-4o-mini=0/0")
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := p.Cost("acme/m1", 500_000, 250_000); !ok || math.Abs(c-1.0) > 1e-9 {
		t.Fatalf("pairs: %v %v", c, ok)
	}
	if c, ok := p.Cost("openai/gpt-4o-mini", 100, 100); !ok || c != 0 {
		t.Fatalf("override: %v %v", c, ok)
	}
	file := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(file, []byte(`{"acme/m2": {"input": 3, "output": 4}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{file, `{"acme/m2": {"input": 3, "output": 4}}`} {
		p, err = ParsePrices(spec)
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := p.Cost("acme/m2", 1_000_000, 0); !ok || c != 3 {
			t.Fatalf("%s: %v %v", spec, c, ok)
		}
	}
	for _, bad := range []string{"acme=1", "acme=x/1", "acme=-1/1", "{nope", "/no/such/file", `{"m": {"input": -1}}`} {
		if _, err := ParsePrices(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
