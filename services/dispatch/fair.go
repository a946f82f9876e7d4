package dispatch

import (
	"sort"

	"github.com/tagstream/tagstream/events"
)

// Worker slots are shared per owner, not per job: one user with many jobs
// must not take most of a process's slots from a user with one. Each free
// slot goes to the owner with the fewest documents in flight; ties take
// turns from the owner after the one served last, and within an owner
// its jobs take turns the same way. The cursors outlive a scheduling
// round, so the turns go on across rounds instead of starting over.

// ownedJob is a runnable job and whose share it counts against.
type ownedJob struct {
	id, owner string
}

// ownerKey is the owner a job's documents count against: the actor who
// started it (an organisation, once jobs have one).
func ownerKey(a events.Actor) string { return a.Kind + ":" + a.ID }

// runnable lists the jobs whose tasks may be taken, by owner then id.
func (w *Worker) runnable() []ownedJob {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []ownedJob
	for id, st := range w.jobs {
		if st.Status == events.StatusPending || st.Status == events.StatusProcessing {
			out = append(out, ownedJob{id: id, owner: ownerKey(st.Owner)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].owner != out[j].owner {
			return out[i].owner < out[j].owner
		}
		return out[i].id < out[j].id
	})
	return out
}

// pick chooses the job the next free slot fetches from, skipping jobs
// found dry this round; "" when none is left. owners is how many owners
// still have a job to try: the slots are shared among them.
func (w *Worker) pick(jobs []ownedJob, dry map[string]bool) (owner, jobID string, owners int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var names []string // owners with a job left to try, in order
	for _, j := range jobs {
		if !dry[j.id] && (len(names) == 0 || names[len(names)-1] != j.owner) {
			names = append(names, j.owner)
		}
	}
	if len(names) == 0 {
		return "", "", 0
	}
	owner = after(names, w.lastOwner, func(o string) int { return w.ownerInFlight[o] })
	var ids []string
	for _, j := range jobs {
		if j.owner == owner && !dry[j.id] {
			ids = append(ids, j.id)
		}
	}
	return owner, after(ids, w.lastJob[owner], func(string) int { return 0 }), len(names)
}

// after returns the item of sorted with the lowest load; among equals,
// the first one after last in cyclic order.
func after(sorted []string, last string, load func(string) int) string {
	start := sort.SearchStrings(sorted, last)
	if start < len(sorted) && sorted[start] == last {
		start++
	}
	best, bestLoad := "", 0
	for i := range sorted {
		s := sorted[(start+i)%len(sorted)]
		if l := load(s); best == "" || l < bestLoad {
			best, bestLoad = s, l
		}
	}
	return best
}
