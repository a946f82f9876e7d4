package dispatch_test

import (
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// A document whose process died while its job was paused reads pending
// again once the reconciler takes that process for dead (it read
// "processing" for the whole pause), and the death still counts towards
// quarantine; one started more recently than LostAfter is left alone.
func TestADocumentLostWhileItsJobIsPausedIsReleased(t *testing.T) {
	r := newRig(t)
	d := r.Dispatcher()
	r.Go(d.Run)
	res := r.Start(t, "u1", 2, services.StartConfig{})
	// A worker started row 0 and died (no outcome, no release).
	env, err := events.New(res.JobID, events.Worker("gone"), events.DocumentStarted{Row: 0, Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.Append(r.Ctx, env, &events.Expect{Subject: events.DocSubject(res.JobID, 0), Seq: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := services.NewChangeJobHandler(r.Store).Handle(r.Ctx, services.ChangeJob{JobID: res.JobID,
		Action: services.ActionPause, Caller: r.Caller("u1")}); err != nil {
		t.Fatal(err)
	}
	doc := func() (jobpkg.Doc, events.Envelope) {
		t.Helper()
		job, err := jobpkg.LoadFull(r.Ctx, r.Store, res.JobID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := r.Store.Last(r.Ctx, events.DocSubject(res.JobID, 0))
		if err != nil {
			t.Fatal(err)
		}
		return job.Docs[0], last
	}
	d.LostAfter = time.Hour
	if err := d.Redispatch(r.Ctx, res.JobID); err != nil {
		t.Fatal(err)
	}
	if got, last := doc(); got.Status != jobpkg.DocProcessing || last.Type != events.TypeDocumentStarted {
		t.Fatalf("started a moment ago: %+v, last event %s", got, last.Type)
	}
	d.LostAfter = time.Nanosecond
	if err := d.Redispatch(r.Ctx, res.JobID); err != nil {
		t.Fatal(err)
	}
	got, last := doc()
	if got.Status != jobpkg.DocPending || got.Starts != 1 || last.Type != events.TypeDocumentReleased {
		t.Fatalf("after the reconciler: %+v, last event %s; want pending with its death counted", got, last.Type)
	}
	ev, err := last.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if rel := ev.(*events.DocumentReleased); rel.Code != jobpkg.CodeWorkerLost || rel.Row != 0 {
		t.Fatalf("release %+v", rel)
	}
	// Once: the document is no longer started.
	if err := d.Redispatch(r.Ctx, res.JobID); err != nil {
		t.Fatal(err)
	}
	if _, again := doc(); again.Seq != last.Seq {
		t.Fatalf("released again: %s at %d", again.Type, again.Seq)
	}
}
