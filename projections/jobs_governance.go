package projections

import "github.com/tagstream/tagstream/events"

// governed applies an erasure or a legal hold to the job's status row and
// reports whether ev was one. Neither changes the job's status or end:
// like services/job, both are control events, so control_seq moves.
func (j *jobEntry) governed(env events.Envelope, ev events.Event) bool {
	switch e := ev.(type) {
	case *events.JobErased:
		if !j.Erased {
			t := env.Time
			j.Erased, j.ErasedAt, j.EraseReason = true, &t, e.Reason
		}
	case *events.LegalHoldSet:
		j.LegalHold, j.LegalHoldReason = e.On, ""
		if e.On {
			j.LegalHoldReason = e.Reason
		}
	default:
		return false
	}
	j.ControlSeq = env.Seq
	return true
}
