package projections

import (
	"context"
	"encoding/json"
)

// CountByStatus counts the jobs f selects per status (its scope and
// conditions; not its order, cursor or limit), in SQL: the jobs gauge
// (every job) and the analytics summary (the caller's scope).
func (q *JobQueries) CountByStatus(ctx context.Context, f Filter) (map[string]int, error) {
	f.After, f.Limit = nil, 0
	if f.Query != "" && !q.namesInSQL() {
		jobs, err := q.List(ctx, f) // tables of an older release: no name column
		return countStatuses(jobs), err
	}
	sel := jobSelect(q.rd.DB().Dialect, f)
	rows, err := q.rd.DB().Query(ctx, `SELECT status, count(*) FROM `+q.tables().Name("jobs")+sel.whereSQL()+` GROUP BY status`, sel.args...)
	if err != nil {
		return nil, readErr(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, readErr(err)
		}
		out[st] = n
	}
	return out, readErr(rows.Err())
}

// jobDump is one job in a canonical dump.
type jobDump struct {
	Job           Job
	Columns       []string
	ColumnMapping map[string]string
	Docs          []DocState
}

// Dump is the job-status model as canonical JSON (jobs newest first, each
// with its documents): equal models give equal bytes, whatever the
// database or generation.
func (q *JobQueries) Dump(ctx context.Context) ([]byte, error) {
	jobs, err := q.List(ctx, Filter{})
	if err != nil {
		return nil, err
	}
	out := make([]jobDump, 0, len(jobs))
	for _, j := range jobs {
		docs, err := q.DocStatuses(ctx, j.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, jobDump{j, j.Columns, j.ColumnMapping, docs})
	}
	return json.Marshal(out)
}

// Dump is the document-results model as canonical JSON: every job's rows
// in order, jobs by id.
func (q *ResultQueries) Dump(ctx context.Context) ([]byte, error) {
	ids, err := q.rd.DB().Query(ctx, `SELECT job_id FROM `+q.tables().Name("jobs")+` ORDER BY job_id`)
	if err != nil {
		return nil, readErr(err)
	}
	var jobs []string
	for ids.Next() {
		var id string
		if err := ids.Scan(&id); err != nil {
			ids.Close()
			return nil, readErr(err)
		}
		jobs = append(jobs, id)
	}
	ids.Close()
	type entry struct {
		JobID string
		Rows  []Result
	}
	out := make([]entry, 0, len(jobs))
	for _, id := range jobs {
		rows, _, _, err := q.Page(ctx, id, 0, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, entry{id, rows})
	}
	return json.Marshal(out)
}
