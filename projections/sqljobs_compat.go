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
	if v >= 1 && v < 4 { // 4: name_lc
		cols = strings.Replace(cols, ", name_lc", ", ''", 1)
	}
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
func (q *JobQueries) readCols() string { return jobColsFor(q.servingVersion()) }

// servingVersion is the version of the serving tables: this release's
// unless the runner says otherwise.
func (q *JobQueries) servingVersion() int {
	if sv, ok := q.rd.(servingVersion); ok {
		return sv.ServingVersion(JobStatusName)
	}
	return JobStatusModel{}.Version()
}

// namesInSQL reports whether the serving tables hold name_lc; without
// it, List filters q in Go over the unpaged rows, as before version 4.
func (q *JobQueries) namesInSQL() bool {
	v := q.servingVersion()
	return v == 0 || v >= 4
}
