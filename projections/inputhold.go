package projections

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// heldInputs keeps a batch's submitted chunks in memory for the start
// that claims them, so a chunk submitted and started in one batch is
// neither encoded, written, read back, decoded nor deleted; the chunks
// no start claimed are written at the flush. Its rules are those of the
// model's own Apply, which differ between models (inputsRule).
type heldInputs struct {
	rule inputsRule
	held map[string]map[int]*heldChunk // by input and chunk
}

// inputsRule is how a model's Apply treats its inputs table.
type inputsRule struct {
	table, column string // the inputs table and its documents column
	// replace: a chunk submitted again replaces the documents of the one
	// written (keeping its job); else the first one stays.
	replace bool
	// dropAlways: a start deletes its input's chunks even when none of
	// them is its job's; else only when it claimed one.
	dropAlways bool
}

// heldChunk is an inputs row the batch has not written yet.
type heldChunk struct {
	job  string
	docs []events.Document
}

func newHeldInputs(rule inputsRule) heldInputs {
	return heldInputs{rule: rule, held: map[string]map[int]*heldChunk{}}
}

// hold keeps a submitted chunk as Apply would write it.
func (h *heldInputs) hold(env events.Envelope) error {
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	s := ev.(*events.DocumentsSubmitted)
	held := h.held[s.InputID]
	if held == nil {
		held = map[int]*heldChunk{}
		h.held[s.InputID] = held
	}
	if c := held[s.Chunk]; c != nil {
		if h.rule.replace {
			c.docs = s.Documents
		}
		return nil
	}
	held[s.Chunk] = &heldChunk{job: env.JobID, docs: s.Documents}
	return nil
}

// claim returns the documents of a job's start (rows no chunk carried
// are blank), from the written chunks and the held ones together, and
// drops the chunks of its input as Apply does.
func (h *heldInputs) claim(ctx context.Context, tx *sqldb.Tx, jobID, inputID string, total int) ([]events.Document, error) {
	type chunk struct {
		job     string
		written string // the documents as written; "" once held ones replace them
		docs    []events.Document
	}
	all := map[int]*chunk{}
	rows, err := tx.Query(ctx, `SELECT chunk, job_id, `+h.rule.column+` FROM `+h.rule.table+` WHERE input_id = ?`, inputID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var n int
		var c chunk
		if err := rows.Scan(&n, &c.job, &c.written); err != nil {
			rows.Close()
			return nil, err
		}
		all[n] = &c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	written := len(all) > 0
	for n, held := range h.held[inputID] {
		switch c := all[n]; {
		case c == nil:
			all[n] = &chunk{job: held.job, docs: held.docs}
		case h.rule.replace:
			c.written, c.docs = "", held.docs
		}
	}
	nums := make([]int, 0, len(all))
	for n, c := range all {
		if c.job == jobID {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	docs := make([]events.Document, total)
	for i := range docs {
		docs[i] = events.Document{Row: i}
	}
	for _, n := range nums {
		part := all[n].docs
		if all[n].written != "" {
			if err := json.Unmarshal([]byte(all[n].written), &part); err != nil {
				return nil, err
			}
		}
		for _, d := range part {
			if d.Row >= 0 && d.Row < len(docs) {
				docs[d.Row] = d
			}
		}
	}
	if len(nums) > 0 || h.rule.dropAlways {
		if written {
			if _, err := tx.Exec(ctx, `DELETE FROM `+h.rule.table+` WHERE input_id = ?`, inputID); err != nil {
				return nil, err
			}
		}
		delete(h.held, inputID)
	}
	return docs, nil
}

// flush writes the chunks no start claimed, as Apply writes them.
func (h *heldInputs) flush(ctx context.Context, tx *sqldb.Tx) error {
	ids := make([]string, 0, len(h.held))
	for id := range h.held {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	conflict := ` ON CONFLICT DO NOTHING`
	if h.rule.replace {
		conflict = ` ON CONFLICT (input_id, chunk) DO UPDATE SET ` + excluded(h.rule.column)
	}
	for _, id := range ids {
		nums := make([]int, 0, len(h.held[id]))
		for n := range h.held[id] {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		for _, n := range nums {
			c := h.held[id][n]
			docs, err := json.Marshal(c.docs)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+h.rule.table+` (input_id, chunk, job_id, `+h.rule.column+`) VALUES (?, ?, ?, ?)`+
				conflict, id, n, c.job, string(docs)); err != nil {
				return err
			}
		}
	}
	h.held = map[string]map[int]*heldChunk{}
	return nil
}
