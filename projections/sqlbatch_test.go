package projections

import (
	"bytes"
	"context"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// A batch folded in memory by ApplyBatch (not the event-by-event fallback
// the runner takes when it fails) leaves the tables as the reference
// models, whatever the batch boundaries, and the same log folded twice
// per batch changes nothing.
func TestSQLModelsApplyBatchEqualsTheReference(t *testing.T) {
	log := busyLog(t, 6)
	want := referenceDump(t, log)
	loaded := loadedEvents(log)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		db := open()
		for _, size := range []int{1, 5, 33, len(loaded)} {
			for _, twice := range []bool{false, true} {
				r := NewSQLRunner(db, sliceLog{}, JobStatusModel{}, ResultsModel{})
				if err := r.Open(ctx); err != nil {
					t.Fatal(err)
				}
				for _, m := range []SQLModel{JobStatusModel{}, ResultsModel{}} {
					for from := 0; from < len(loaded); from += size {
						batch := loaded[from:min(from+size, len(loaded))]
						if twice {
							batch = append(append([]events.Envelope{}, batch...), batch...)
						}
						tx, err := db.Begin(ctx)
						if err != nil {
							t.Fatal(err)
						}
						if err := m.(BatchApplier).ApplyBatch(ctx, tx, r.Tables(m.Name()), batch); err != nil {
							t.Fatalf("%s, batches of %d: %v", m.Name(), size, err)
						}
						if err := tx.Commit(); err != nil {
							t.Fatal(err)
						}
					}
				}
				if got := sqlDump(t, r); !bytes.Equal(got, want) {
					t.Fatalf("batches of %d (twice %v): %s", size, twice, firstDiff(got, want))
				}
				for _, name := range []string{JobStatusName, DocumentResultsName} {
					if _, err := db.Exec(ctx, `DELETE FROM projection_checkpoints WHERE name = ?`, name); err != nil {
						t.Fatal(err)
					}
					for _, tbl := range []string{"jobs", "docs", "rows", "inputs"} {
						db.Exec(ctx, `DROP TABLE IF EXISTS `+tablesFor(name, 1).Name(tbl))
					}
				}
			}
		}
	})
}

// loadedEvents is the log's events this build decodes, decoded, as the
// runner hands them to a model.
func loadedEvents(log sliceLog) []events.Envelope {
	var out []events.Envelope
	for _, env := range log {
		if env.Load() == nil {
			out = append(out, env)
		}
	}
	return out
}
