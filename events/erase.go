package events

// Erasure and legal hold (issue 15). Both live on the job's control
// subject, so the one decider sees them in order with every other
// transition and a command can append them guarded by its sequence.
const (
	TypeJobErased    = "JobErased"
	TypeLegalHoldSet = "LegalHoldSet"
)

// JobErased records that the job's data key was destroyed: its document
// data (titles, paths, descriptions, extra columns, tags, document errors)
// can no longer be read from any event, export or read model. Counts and
// the timeline remain. The actor is who asked.
type JobErased struct {
	Reason string `json:"reason"`
}

// LegalHoldSet sets (On) or lifts a legal hold: while it is on, the job
// cannot be erased, by a user or by retention.
type LegalHoldSet struct {
	On     bool   `json:"on"`
	Reason string `json:"reason"`
}

func (JobErased) EventType() string    { return TypeJobErased }
func (LegalHoldSet) EventType() string { return TypeLegalHoldSet }

func (JobErased) subject(id string) string    { return ControlSubject(id) }
func (LegalHoldSet) subject(id string) string { return ControlSubject(id) }
