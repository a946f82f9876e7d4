package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// countingFresh counts the catch-ups a request makes.
type countingFresh struct{ syncs atomic.Int64 }

func (f *countingFresh) WaitFor(context.Context, uint64) error { return nil }
func (f *countingFresh) Sync(context.Context) error            { f.syncs.Add(1); return nil }

// Another user's job and a job that does not exist answer the same 404
// after the same work (one catch-up with the log): the first skipped the
// catch-up, so a faster 404 said the job existed.
func TestSomeoneElsesJobAndNoJobCostTheSame(t *testing.T) {
	fresh := &countingFresh{}
	h := New(Deps{Log: slog.New(slog.DiscardHandler), Auth: &accountsAuth{}, Jobs: oneJob{}, Freshness: fresh})
	for _, id := range []string{"known", "unknown"} {
		before := fresh.syncs.Load()
		rec := callFrom(h, "192.0.2.1:1", http.MethodGet, "/api/batch/jobs/"+id+"/status", "u2", "")
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s: %d %s", id, rec.Code, rec.Body)
		}
		if n := fresh.syncs.Load() - before; n != 1 {
			t.Fatalf("%s: %d catch-ups, want 1 like the other", id, n)
		}
		if want := `job \"` + id + `\" not found`; !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("%s: body %s, want %s", id, rec.Body, want)
		}
	}
}
