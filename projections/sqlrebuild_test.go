package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// A rebuild neither decodes nor applies the events a model ignores (job
// status: the submitted chunks) but still counts one it could not read;
// the rebuilt models equal the live ones, on both stores.
func TestRebuildSkipsIgnoredEventsAndEqualsLive(t *testing.T) {
	log := busyLog(t, 6)
	// A submitted chunk of a newer release, in the middle of the log: its
	// data would not even parse, so decoding it would fail loudly.
	odd := log[len(log)/2]
	odd.Type, odd.Version, odd.Data = events.TypeDocumentsSubmitted, events.Types.Version(events.TypeDocumentsSubmitted)+1, json.RawMessage(`{"documents":`)
	log = append(log[:len(log)/2:len(log)/2], append(sliceLog{odd}, log[len(log)/2:]...)...)
	for i := range log {
		log[i].Seq = uint64(i + 1)
	}
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := NewSQLRunner(open(), log, JobStatusModel{}, ResultsModel{})
		r.BatchSize = 9
		r.RebuildSkips = events.NewSkips(nil, nil)
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		live := sqlDump(t, r)
		for _, name := range []string{JobStatusName, DocumentResultsName} {
			if err := r.Rebuild(ctx, name, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got := sqlDump(t, r); !bytes.Equal(got, live) {
			t.Fatalf("rebuilt models differ from the live ones: %s", firstDiff(got, live))
		}
		if n := r.RebuildSkips.Count(events.ReaderProjections, events.TypeDocumentsSubmitted); n != 2 {
			t.Fatalf("the unreadable chunk was counted %d times by two rebuilds", n)
		}
		for _, st := range r.Status() {
			if st.Generation != 2 || st.Seq != uint64(len(log)) {
				t.Fatalf("after rebuild %+v", st)
			}
		}
	})
}
