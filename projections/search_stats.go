package projections

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// HistoryStats is GET /api/history/stats.
type HistoryStats struct {
	TotalJobs      int            `json:"total_jobs"`
	TotalDocuments int            `json:"total_documents"`
	JobsByStatus   map[string]int `json:"jobs_by_status"`
	RecentJobs     []RecentJob    `json:"recent_jobs"`
}

// RecentJob is one of the newest jobs with its documents' outcomes.
type RecentJob struct {
	JobID      string     `json:"job_id"`
	OwnerID    string     `json:"owner_id"`
	Status     string     `json:"status"`
	Total      int        `json:"total_documents"`
	Processed  int        `json:"processed_count"`
	Failed     int        `json:"failed_count"`
	Cancelled  int        `json:"cancelled_count"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// whereClause is " WHERE " and the scope's conditions with extra ones,
// or "" when there are none.
func whereClause(s Scope, extra ...string) (string, []any) {
	conds, args := s.where("")
	conds = append(conds, extra...)
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Stats returns the history statistics of the jobs in scope, with the n
// newest jobs.
func (r *SearchReader) Stats(ctx context.Context, scope Scope, n int) (HistoryStats, error) {
	t := r.tables()
	w, args := whereClause(scope)
	st := HistoryStats{JobsByStatus: map[string]int{}, RecentJobs: []RecentJob{}}
	rows, err := r.DB.Query(ctx, `SELECT status, count(*), COALESCE(SUM(total), 0) FROM `+t.Name("jobs")+w+` GROUP BY status`, args...)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var status string
		var jobs, docs int
		if err := rows.Scan(&status, &jobs, &docs); err != nil {
			rows.Close()
			return st, err
		}
		st.JobsByStatus[status] = jobs
		st.TotalJobs += jobs
		st.TotalDocuments += docs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	rows, err = r.DB.Query(ctx, `SELECT job_id, owner, status, total, created_at, updated_at, finished_at FROM `+t.Name("jobs")+w+
		` ORDER BY created_at DESC, job_id DESC LIMIT ?`, append(args, n)...)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var j RecentJob
		var created, updated int64
		var fin sql.NullInt64
		if err := rows.Scan(&j.JobID, &j.OwnerID, &j.Status, &j.Total, &created, &updated, &fin); err != nil {
			rows.Close()
			return st, err
		}
		j.CreatedAt, j.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
		if fin.Valid {
			f := time.Unix(0, fin.Int64).UTC()
			j.FinishedAt = &f
		}
		st.RecentJobs = append(st.RecentJobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	for i := range st.RecentJobs {
		j := &st.RecentJobs[i]
		err := each(ctx, r, `SELECT status, count(*) FROM `+t.Name("documents")+` WHERE job_id = ? GROUP BY status`, []any{j.JobID},
			func(rows *sql.Rows) error {
				var status string
				var n int
				if err := rows.Scan(&status, &n); err != nil {
					return err
				}
				c := counts{j.Processed, j.Failed, j.Cancelled}
				c.add(status, n)
				j.Processed, j.Failed, j.Cancelled = c.Processed, c.Failed, c.Cancelled
				return nil
			})
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// each runs a query and calls fn for every row.
func each(ctx context.Context, r *SearchReader, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := r.DB.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Summary returns the analytics of the jobs in scope with the top n
// failure reasons and tags. Percentiles come from the same 10% buckets
// the in-memory model kept, stored per outcome, so they are equal after a
// rebuild and on either store.
func (r *SearchReader) Summary(ctx context.Context, scope Scope, n int) (Summary, error) {
	t := r.tables()
	o := t.Name("outcomes")
	w, args := whereClause(scope)
	g := newAggregate()
	err := each(ctx, r, `SELECT day, model, SUM(ok), COUNT(*), SUM(calls), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd),
		SUM(cached), SUM(total_tokens) FROM `+o+w+` GROUP BY day, model`, args, func(rows *sql.Rows) error {
		var day, model string
		var ok, docs, cached int
		var sp spend
		var tokens int64
		if err := rows.Scan(&day, &model, &ok, &docs, &sp.Calls, &sp.PromptTokens, &sp.CompletionTokens, &sp.CostUSD,
			&cached, &tokens); err != nil {
			return err
		}
		sp.Documents, sp.Cached = docs, cached
		g.Spend[day+"\t"+model] = &sp
		d := g.Days[day]
		if d == nil {
			d = &dayCount{}
			g.Days[day] = d
		}
		d.Success += ok
		d.Failed += docs - ok
		m := g.model(model)
		m.Documents += docs
		m.Failed += docs - ok
		m.Calls += sp.Calls
		m.CostUSD += sp.CostUSD
		m.TotalTokens += tokens
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	err = each(ctx, r, `SELECT model, dur_bucket, tok_bucket, COUNT(*) FROM `+o+w+` GROUP BY model, dur_bucket, tok_bucket`, args,
		func(rows *sql.Rows) error {
			var model string
			var dur, n int
			var tok sql.NullInt64
			if err := rows.Scan(&model, &dur, &tok, &n); err != nil {
				return err
			}
			m := g.model(model)
			m.Durations[dur] += n
			if tok.Valid {
				m.Tokens[int(tok.Int64)] += n
			}
			return nil
		})
	if err != nil {
		return Summary{}, err
	}
	fw, fargs := whereClause(scope, "ok = 0")
	err = each(ctx, r, `SELECT code, reason, COUNT(*) FROM `+o+fw+` GROUP BY code, reason`, fargs, func(rows *sql.Rows) error {
		var code, reason string
		var n int
		if err := rows.Scan(&code, &reason, &n); err != nil {
			return err
		}
		g.Failures[code+"\t"+reason] += n
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	err = each(ctx, r, `SELECT label, COUNT(*) FROM `+t.Name("tags")+w+` GROUP BY label`, args, func(rows *sql.Rows) error {
		var label string
		var n int
		if err := rows.Scan(&label, &n); err != nil {
			return err
		}
		g.Tags[label] += n
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	return g.summary(n), nil
}

func (g *aggregate) model(name string) *modelStats {
	m := g.Models[name]
	if m == nil {
		m = &modelStats{Durations: histogram{}, Tokens: histogram{}}
		g.Models[name] = m
	}
	return m
}
