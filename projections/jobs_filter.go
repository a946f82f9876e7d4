package projections

import (
	"sort"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/tagstream/tagstream/events"
)

// Filter selects jobs for listing: who may see them (OwnerID, OrgID,
// Readable), which (Status, Failed, Query), in which order (Sort) and
// which page (After, Limit). The zero Filter is every job, newest first.
type Filter struct {
	OwnerID string   // only this owner's jobs; "" means every owner
	OrgID   string   // only this organisation's jobs; "" means any
	Status  []string // empty means every status
	// Readable, when set, keeps the jobs a caller may read (see
	// Readable); nil is no access limit, for internal callers.
	Readable *Readable
	// Failed keeps jobs that failed or have failed documents, which a
	// status alone cannot say of a completed job.
	Failed bool
	// Query keeps jobs whose id or name contains it, case-insensitively.
	Query string
	Sort  string  // SortNewest (or ""), SortOldest, SortStatus
	After *Cursor // the page starts after this job of the previous one
	Limit int     // at most this many jobs; 0 means all
}

// Readable is what one caller may read, as services.JobAccess decides it:
// its own jobs, every job of the organisations where its role reads all
// of them, and every job outside organisations for a global auditor or
// admin. A job matching any of the three is readable.
type Readable struct {
	OwnerID string   // the caller's own jobs ("" for none)
	Orgs    []string // organisations whose every job the caller reads
	NoOrg   bool     // every job outside organisations
}

// List orders.
const (
	SortNewest = "created"  // newest first (the default)
	SortOldest = "-created" // oldest first
	SortStatus = "status"   // by StatusRank, newest first inside a status
)

// ValidSort reports whether s is an order List knows ("" is SortNewest).
func ValidSort(s string) bool {
	return s == "" || s == SortNewest || s == SortOldest || s == SortStatus
}

// statusRanks order jobs for SortStatus: live ones first, as a person
// scanning the list wants them.
var statusRanks = []string{events.StatusProcessing, events.StatusPaused, events.StatusPending,
	events.StatusFailed, events.StatusCancelled, events.StatusCompleted}

// StatusRank is a status's place in SortStatus; an unknown one goes last.
func StatusRank(status string) int {
	for i, s := range statusRanks {
		if s == status {
			return i
		}
	}
	return len(statusRanks)
}

// Cursor is a job's place in a list: what each order sorts by.
type Cursor struct {
	Created time.Time
	ID      string
	Rank    int // StatusRank of the job's status, for SortStatus
}

// CursorOf is j's place.
func CursorOf(j Job) Cursor {
	return Cursor{Created: j.CreatedAt, ID: j.ID, Rank: StatusRank(j.Status)}
}

// precedes reports whether a job at a comes before one at b in f's order.
// Ids break ties of creation time, so no two jobs share a place.
func (f Filter) precedes(a, b Cursor) bool {
	if f.Sort == SortStatus && a.Rank != b.Rank {
		return a.Rank < b.Rank
	}
	if f.Sort == SortOldest {
		a, b = b, a
	}
	return a.Created.After(b.Created) || a.Created.Equal(b.Created) && a.ID > b.ID
}

// Lower is the form Query and names are compared in: NFC, then Go's
// case folding (so SQLite's ASCII-only lower() never decides). NFC as in
// search (searchWords): a name typed with a precomposed nukta letter (ज़,
// U+095B) and a query typed as ज + ़ are the same word to the user.
func Lower(s string) string { return strings.ToLower(norm.NFC.String(s)) }

// matches reports whether j passes f's conditions (not its page).
func (f Filter) matches(j Job) bool {
	switch {
	case f.OwnerID != "" && j.OwnerID != f.OwnerID,
		f.OrgID != "" && j.OrgID != f.OrgID,
		len(f.Status) > 0 && !contains(f.Status, j.Status),
		f.Readable != nil && !f.Readable.allows(j),
		f.Failed && j.Status != events.StatusFailed && j.Failed == 0:
		return false
	}
	q := Lower(f.Query)
	return q == "" || strings.Contains(Lower(j.ID), q) || strings.Contains(Lower(j.Config.Name), q)
}

func (r Readable) allows(j Job) bool {
	return r.OwnerID != "" && j.OwnerID == r.OwnerID ||
		j.OrgID != "" && contains(r.Orgs, j.OrgID) ||
		r.NoOrg && j.OrgID == ""
}

// page orders jobs by f and cuts f's page out of them: the reference the
// SQL List answers the same way, and the SQL List's own fallback when
// its tables cannot filter.
func (f Filter) page(jobs []Job) []Job {
	out := jobs[:0]
	for _, j := range jobs {
		if f.matches(j) && (f.After == nil || f.precedes(*f.After, CursorOf(j))) {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(a, b int) bool { return f.precedes(CursorOf(out[a]), CursorOf(out[b])) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}
