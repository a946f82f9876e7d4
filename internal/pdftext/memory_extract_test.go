package pdftext

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

func TestExtractReservesItsEstimateFromTheGate(t *testing.T) {
	b := &pdfgen.Builder{}
	data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(pdfgen.HelloContent))), pdfgen.Helvetica)
	need := MemoryEstimate(int64(len(data)))
	g := NewMemoryGate(need)
	ctx := context.Background()
	// Another extraction holds the whole budget: this one must wait, and
	// give up cleanly when its context ends.
	hold, err := g.Acquire(ctx, need)
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Extract(gone, data, Options{Memory: g}); !errors.Is(err, context.Canceled) {
		t.Fatalf("extracted beside a full budget: %v", err)
	}
	type result struct {
		res *Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Extract(ctx, data, Options{Memory: g})
		done <- result{res, err}
	}()
	for g.waiting() == 0 {
		waitYield()
	}
	hold()
	r := <-done
	if r.err != nil || !strings.Contains(r.res.Text, "Hello hostile world") {
		t.Fatalf("after the budget was freed: %v %v", r.res, r.err)
	}
	if g.InUse() != 0 {
		t.Fatalf("extraction kept %d bytes reserved after returning", g.InUse())
	}
}
