package retention

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/org"
)

// recorder is an Eraser that records what it was asked and refuses the
// jobs in held with the erase command's Conflict (a legal hold).
type recorder struct {
	mu    sync.Mutex
	calls []string
	actor []events.Actor
	held  map[string]bool
}

func (r *recorder) Erase(_ context.Context, actor events.Actor, jobID, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, jobID)
	r.actor = append(r.actor, actor)
	if reason == "" {
		return apperr.Field("reason", "is required")
	}
	if r.held[jobID] {
		return apperr.New(apperr.Conflict, "job %s is under legal hold", jobID)
	}
	return nil
}

// world is the real store on embedded JetStream with the commands that
// make organisations and jobs.
type world struct {
	t     *testing.T
	ctx   context.Context
	store events.Store
	orgs  services.OrgHandler
	admin events.Actor
}

func newWorld(t *testing.T) *world {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	conn := natstest.Start(t, "")
	store, err := jsstore.Open(ctx, conn.JS, jsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, ctx: ctx, store: store, orgs: services.NewOrgHandler(store), admin: events.User("u-admin", "admin@example.org")}
}

func (w *world) org(name string, days int) string {
	w.t.Helper()
	res, err := w.orgs.Create(w.ctx, w.admin, name)
	if err != nil {
		w.t.Fatal(err)
	}
	w.retention(res.OrgID, days)
	return res.OrgID
}

func (w *world) retention(orgID string, days int) {
	w.t.Helper()
	if _, err := w.orgs.ChangeSettings(w.ctx, orgID, w.admin, services.SettingsChange{RetentionDays: &days}); err != nil {
		w.t.Fatal(err)
	}
}

// job starts a one-document job by the admin in orgID ("" for none) and,
// when end, cancels it (an ended job, at the current time).
func (w *world) job(orgID string, end bool) string {
	w.t.Helper()
	c := services.Caller{Actor: w.admin, Orgs: map[string]string{}}
	if orgID != "" {
		c.Orgs[orgID] = org.RoleAdmin
	}
	res, err := services.NewStartJobHandler(w.store, nil, 10, false).Handle(w.ctx, services.StartJob{Caller: c, OrgID: orgID,
		Documents: []map[string]any{{"file_path": "a.pdf", "title": "Personal file"}}, Config: services.StartConfig{Model: services.KeywordsModel}})
	if err != nil {
		w.t.Fatal(err)
	}
	if end {
		if _, err := services.NewChangeJobHandler(w.store).Handle(w.ctx, services.ChangeJob{JobID: res.JobID, Action: "cancel", Caller: c}); err != nil {
			w.t.Fatal(err)
		}
	}
	return res.JobID
}

// The sweeper erases exactly the organisation jobs that ended more than
// the organisation's retention_days ago (by the injected clock), as the
// system; a held job is refused and tried again on the next sweep; an
// erased job is not asked for again; a longer period or none stops it.
func TestSweepErasesJobsPastTheirOrganisationsRetention(t *testing.T) {
	w := newWorld(t)
	short, long, none := w.org("Short", 30), w.org("Long", 90), w.org("None", 0)
	old := w.job(short, true)
	held := w.job(short, true)
	running := w.job(short, false)
	keptLonger := w.job(long, true)
	noPeriod := w.job(none, true)
	personal := w.job("", true)

	now := time.Now()
	clock := now
	rec := &recorder{held: map[string]bool{held: true}}
	s := New(w.store, rec, Config{Now: func() time.Time { return clock }, Log: slog.New(slog.DiscardHandler)})

	// Day 29: nothing is due yet.
	clock = now.Add(29 * 24 * time.Hour)
	if res, err := s.Sweep(w.ctx); err != nil || len(rec.calls) != 0 {
		t.Fatalf("day 29: %+v %v, calls %v", res, err, rec.calls)
	}
	// Day 31: the short organisation's ended jobs are due.
	clock = now.Add(31 * 24 * time.Hour)
	res, err := s.Sweep(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Erased, []string{old}) || !slices.Equal(res.Refused, []string{held}) {
		t.Fatalf("day 31: %+v (old %s, held %s)", res, old, held)
	}
	for _, a := range rec.actor {
		if a.Kind != events.ActorSystem {
			t.Fatalf("erased as %+v, want the system", a)
		}
	}
	for _, id := range []string{running, keptLonger, noPeriod, personal} {
		if slices.Contains(rec.calls, id) {
			t.Fatalf("%s was asked to be erased", id)
		}
	}
	// The hold is lifted: the next sweep erases it, and asks for nothing else.
	delete(rec.held, held)
	rec.calls = nil
	if res, err := s.Sweep(w.ctx); err != nil || !slices.Equal(res.Erased, []string{held}) || !slices.Equal(rec.calls, []string{held}) {
		t.Fatalf("after the hold: %+v %v, calls %v", res, err, rec.calls)
	}
	// The running job ends (its end is stamped by the real clock, long
	// before the sweeper's day 31); the long organisation shortens its
	// period to 10 days. Both are due, oldest end first.
	if _, err := services.NewChangeJobHandler(w.store).Handle(w.ctx, services.ChangeJob{JobID: running, Action: "cancel",
		Caller: services.Caller{Actor: w.admin}}); err != nil {
		t.Fatal(err)
	}
	w.retention(long, 10)
	rec.calls = nil
	res, err = s.Sweep(w.ctx)
	if err != nil || !slices.Equal(res.Erased, []string{keptLonger, running}) {
		t.Fatalf("after shortening: %+v %v (want %s, %s)", res, err, keptLonger, running)
	}
	if slices.Contains(rec.calls, noPeriod) || slices.Contains(rec.calls, personal) {
		t.Fatalf("jobs without a period were erased: %v", rec.calls)
	}

	// A second process sweeping the same log asks for the same jobs (the
	// erase command makes a repeat a no-op), and nothing else.
	other := &recorder{}
	res, err = New(w.store, other, Config{Now: func() time.Time { return clock }, Log: slog.New(slog.DiscardHandler)}).Sweep(w.ctx)
	want := []string{old, held, running, keptLonger}
	if err != nil || len(res.Erased) != len(want) {
		t.Fatalf("second sweeper: %+v %v", res, err)
	}
	for _, id := range want {
		if !slices.Contains(res.Erased, id) {
			t.Fatalf("second sweeper missed %s: %+v", id, res)
		}
	}
}

// A failing eraser leaves the job for the next sweep; a sweep whose
// context ends stops at once.
func TestSweepRetriesFailures(t *testing.T) {
	w := newWorld(t)
	o := w.org("Org", 1)
	job := w.job(o, true)
	clock := time.Now().Add(48 * time.Hour)
	fail := &failing{}
	s := New(w.store, fail, Config{Now: func() time.Time { return clock }, Log: slog.New(slog.DiscardHandler)})
	if res, err := s.Sweep(w.ctx); err != nil || !slices.Equal(res.Failed, []string{job}) {
		t.Fatalf("first: %+v %v", res, err)
	}
	fail.ok = true
	if res, err := s.Sweep(w.ctx); err != nil || !slices.Equal(res.Erased, []string{job}) {
		t.Fatalf("second: %+v %v", res, err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	cancel()
	if _, err := New(w.store, fail, Config{}).Sweep(ctx); err == nil {
		t.Fatal("a cancelled sweep reported success")
	}
}

type failing struct{ ok bool }

func (f *failing) Erase(context.Context, events.Actor, string, string) error {
	if f.ok {
		return nil
	}
	return apperr.New(apperr.Unavailable, "the key store cannot be reached")
}

// A job retried after it ended runs again: its period starts over only
// when it ends again.
func TestRetriedJobIsNotDue(t *testing.T) {
	w := newWorld(t)
	o := w.org("Org", 1)
	job := w.job(o, true)
	if _, err := services.NewRetryJobHandler(w.store, nil, false).Handle(w.ctx, services.RetryJob{JobID: job,
		Caller: services.Caller{Actor: w.admin}, IncludeCancelled: true, Reason: "again"}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	clock := time.Now().Add(48 * time.Hour)
	s := New(w.store, rec, Config{Now: func() time.Time { return clock }, Log: slog.New(slog.DiscardHandler)})
	if res, err := s.Sweep(w.ctx); err != nil || len(rec.calls) != 0 {
		t.Fatalf("a running retry was erased: %+v %v", res, err)
	}
	if _, err := services.NewChangeJobHandler(w.store).Handle(w.ctx, services.ChangeJob{JobID: job, Action: "cancel",
		Caller: services.Caller{Actor: w.admin}}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Sweep(w.ctx); err != nil || !slices.Equal(res.Erased, []string{job}) {
		t.Fatalf("after it ended again: %+v %v", res, err)
	}
}
