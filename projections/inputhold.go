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
//
// Chunks are a job's: jobs started at once from the same documents have
// the same input id (a digest of the request), so the id alone would let
// one job's start take or delete another's chunks.
type heldInputs struct {
	rule inputsRule
	held map[string]map[string]map[int][]events.Document // by job, input and chunk
}

// inputsRule is how a model's Apply treats its inputs table.
type inputsRule struct {
	table, column string // the inputs table and its documents column
	// replace: a chunk submitted again replaces the documents of the one
	// written; else the first one stays.
	replace bool
}

func newHeldInputs(rule inputsRule) heldInputs {
	return heldInputs{rule: rule, held: map[string]map[string]map[int][]events.Document{}}
}

// holds reports whether the batch holds chunks of the job.
func (h *heldInputs) holds(jobID string) bool { return len(h.held[jobID]) > 0 }

// hold keeps a submitted chunk as Apply would write it.
func (h *heldInputs) hold(env events.Envelope) error {
	ev, err := env.Decode()
	if err != nil {
		return err
	}
	s := ev.(*events.DocumentsSubmitted)
	job := h.held[env.JobID]
	if job == nil {
		job = map[string]map[int][]events.Document{}
		h.held[env.JobID] = job
	}
	held := job[s.InputID]
	if held == nil {
		held = map[int][]events.Document{}
		job[s.InputID] = held
	}
	if _, ok := held[s.Chunk]; ok && !h.rule.replace {
		return nil
	}
	held[s.Chunk] = s.Documents
	return nil
}

// claim returns the documents of a job's start (rows no chunk carried
// are blank), from the written chunks of its input and the held ones
// together, and drops every chunk of the job as Apply does.
func (h *heldInputs) claim(ctx context.Context, tx *sqldb.Tx, jobID, inputID string, total int) ([]events.Document, error) {
	type chunk struct {
		written string // the documents as written; "" once held ones replace them
		docs    []events.Document
	}
	all := map[int]*chunk{}
	rows, err := tx.Query(ctx, `SELECT input_id, chunk, `+h.rule.column+` FROM `+h.rule.table+` WHERE job_id = ?`, jobID)
	if err != nil {
		return nil, err
	}
	written := false
	for rows.Next() {
		var in string
		var n int
		var c chunk
		if err := rows.Scan(&in, &n, &c.written); err != nil {
			rows.Close()
			return nil, err
		}
		written = true
		if in == inputID {
			all[n] = &c
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for n, docs := range h.held[jobID][inputID] {
		switch c := all[n]; {
		case c == nil:
			all[n] = &chunk{docs: docs}
		case h.rule.replace:
			c.written, c.docs = "", docs
		}
	}
	nums := make([]int, 0, len(all))
	for n := range all {
		nums = append(nums, n)
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
	if written {
		if _, err := tx.Exec(ctx, `DELETE FROM `+h.rule.table+` WHERE job_id = ?`, jobID); err != nil {
			return nil, err
		}
	}
	delete(h.held, jobID)
	return docs, nil
}

// flush writes the chunks no start claimed, as Apply writes them.
func (h *heldInputs) flush(ctx context.Context, tx *sqldb.Tx) error {
	conflict := ` ON CONFLICT DO NOTHING`
	if h.rule.replace {
		conflict = ` ON CONFLICT (job_id, input_id, chunk) DO UPDATE SET ` + excluded(h.rule.column)
	}
	for _, job := range sortedKeys(h.held) {
		for _, in := range sortedKeys(h.held[job]) {
			chunks := h.held[job][in]
			nums := make([]int, 0, len(chunks))
			for n := range chunks {
				nums = append(nums, n)
			}
			sort.Ints(nums)
			for _, n := range nums {
				docs, err := json.Marshal(chunks[n])
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO `+h.rule.table+` (input_id, chunk, job_id, `+h.rule.column+`) VALUES (?, ?, ?, ?)`+
					conflict, in, n, job, string(docs)); err != nil {
					return err
				}
			}
		}
	}
	h.held = map[string]map[string]map[int][]events.Document{}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
