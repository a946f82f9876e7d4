// Package services is Tagstream's command side: the job commands (start,
// pause, resume, cancel, retry), completion and reconciliation, on
// events.Store only. Job rules live in services/job; the JetStream-aware
// dispatcher, task queue and workers in services/dispatch; the tagging
// pipeline (fetch -> text -> tagger) in services/pipeline.
package services

import (
	"context"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/services/job"
)

// jobState is a job folded by the decider (package job).
type jobState = job.State

// loadJob loads a job's state for a command. A job nobody started is NotFound.
func loadJob(ctx context.Context, store events.Store, jobID string) (*jobState, error) {
	return job.Load(ctx, store, jobID, 0)
}

// Caller is who issues a command.
type Caller struct {
	Actor      events.Actor
	ControlAll bool // admins control every job
	ReadAll    bool // auditors and admins read every job
	// Orgs is the caller's role in each organisation it belongs to (org
	// id -> role), looked up per request so a changed role applies at once.
	Orgs map[string]string
}

// controllableBy applies the access policy (access.go) to a command.
func controllableBy(s *jobState, c Caller) error {
	return CheckControl(c, s.ID, s.Owner.ID, s.Started.OrgID)
}

// secretID names a job attempt's API key in the secret store.
func secretID(jobID string, attempt int) string { return job.SecretID(jobID, attempt) }
