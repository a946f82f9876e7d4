package projections

import "github.com/tagstream/tagstream/internal/sqldb"

// OneStatementReader is a SearchReader that asks every search in one
// statement (no window on PostgreSQL): BenchmarkDocumentSearch measures
// it beside the windowed plan, in the same run.
func OneStatementReader(db *sqldb.DB) *SearchReader { return &SearchReader{DB: db, oneStatement: true} }

// SetSwitchMargin sets how close to the serving generation a rebuild's
// bulk load stops (see switchMargin).
func SetSwitchMargin(r *SQLRunner, n uint64) { r.switchMargin = n }
