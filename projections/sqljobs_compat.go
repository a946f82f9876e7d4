package projections

import "strings"

// After an upgrade the runner serves the job-status tables an older
// release built until their rebuild (beside them, at start) switches:
// readers then select what those tables lack as its empty value, so job
// reads keep answering instead of failing on a missing column.

// servingVersion is implemented by SQLRunner.
type servingVersion interface{ ServingVersion(model string) int }

// jobColsFor is jobCols as the tables of version v can answer it.
func jobColsFor(v int) string {
	cols := jobCols
	if v >= 1 && v < 3 { // 3: erasure and legal hold
		cols = strings.Replace(cols, "erased_at, erase_reason, legal_hold, legal_hold_reason",
			"NULL, '', 0, ''", 1)
	}
	if v == 1 { // 2: org_id
		cols = strings.Replace(cols, "org_id,", "'',", 1)
	}
	return cols
}

// readCols is the column list for the serving tables.
func (q *JobQueries) readCols() string {
	if sv, ok := q.rd.(servingVersion); ok {
		return jobColsFor(sv.ServingVersion(JobStatusName))
	}
	return jobCols
}
