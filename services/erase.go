package services

import (
	"context"
	"errors"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// DataKeys is what erasure needs of the per-job data keys
// (internal/datakeys).
type DataKeys interface {
	// Destroy destroys the job's key; destroying twice does nothing.
	Destroy(ctx context.Context, jobID string) error
}

// EraseCleanup removes what a job keeps outside the log (its uploads).
type EraseCleanup func(ctx context.Context, jobID string) error

// GovernanceHandler erases jobs and sets or lifts legal holds.
type GovernanceHandler struct {
	store    events.Store
	keys     DataKeys
	cleanups []EraseCleanup
}

// NewGovernanceHandler returns a handler appending to store.
func NewGovernanceHandler(store events.Store, keys DataKeys, cleanups ...EraseCleanup) GovernanceHandler {
	return GovernanceHandler{store: store, keys: keys, cleanups: cleanups}
}

func requireReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "", apperr.Field("reason", "is required")
	}
	return reason, checkReason(reason)
}

// Erase crypto-shreds an ended job's document data: JobErased is appended
// (guarded by the job's control sequence, so a hold set meanwhile wins),
// then the data key is destroyed and the job's uploads removed. Errors:
// Invalid (no reason), NotFound / Forbidden (CheckErase), Conflict (under
// legal hold, not ended, or logged before document data was sealed).
// Erasing an erased job again only finishes what a failed erasure left
// (the key, the uploads) and succeeds, so retention may call it twice.
func (h GovernanceHandler) Erase(ctx context.Context, c Caller, jobID, reason string) error {
	reason, err := requireReason(reason)
	if err != nil {
		return err
	}
	return jobpkg.WithRetry(ctx, 10, func() error {
		job, err := loadJob(ctx, h.store, jobID)
		if err != nil {
			return err
		}
		if err := CheckErase(c, job.ID, job.Owner.ID, job.Started.OrgID); err != nil {
			return err
		}
		if job.Erased {
			return h.shred(ctx, job.ID)
		}
		ev, err := job.DecideErase(reason)
		if err != nil {
			return err
		}
		sealed, err := h.inputSealed(ctx, job.ID)
		if err != nil {
			return err
		}
		if !sealed {
			return apperr.New(apperr.Conflict, "job %s was logged before document data was encrypted: "+
				"its events hold the data in the clear and cannot be crypto-shredded", job.ID)
		}
		env, err := events.New(job.ID, c.Actor, ev)
		if err != nil {
			return err
		}
		if _, err := h.store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(job.ID), Seq: job.ControlSeq}); err != nil {
			return err
		}
		return h.shred(ctx, job.ID)
	})
}

// inputSealed reports whether the job's documents were stored sealed:
// jobs logged before sealing hold them in the clear, which destroying a
// key would not erase.
func (h GovernanceHandler) inputSealed(ctx context.Context, jobID string) (bool, error) {
	env, err := h.store.Last(ctx, events.InputSubject(jobID))
	if errors.Is(err, events.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "read the job's documents")
	}
	return events.WasSealed(env), nil
}

func (h GovernanceHandler) shred(ctx context.Context, jobID string) error {
	if err := h.keys.Destroy(ctx, jobID); err != nil {
		return apperr.Wrap(err, "destroy data key")
	}
	for _, clean := range h.cleanups {
		if err := clean(ctx, jobID); err != nil {
			return apperr.Wrap(err, "erase job data")
		}
	}
	return nil
}

// LegalHoldResult is the job's hold after a change.
type LegalHoldResult struct {
	JobID string `json:"job_id"`
	On    bool   `json:"legal_hold"`
	Seq   uint64 `json:"seq"`
}

// SetLegalHold sets (on) or lifts a job's legal hold, as a LegalHoldSet
// event. Errors: Invalid (no reason), NotFound / Forbidden
// (CheckLegalHold), Conflict (already in that state).
func (h GovernanceHandler) SetLegalHold(ctx context.Context, c Caller, jobID string, on bool, reason string) (LegalHoldResult, error) {
	reason, err := requireReason(reason)
	if err != nil {
		return LegalHoldResult{}, err
	}
	var res LegalHoldResult
	err = jobpkg.WithRetry(ctx, 10, func() error {
		job, err := loadJob(ctx, h.store, jobID)
		if err != nil {
			return err
		}
		if err := CheckLegalHold(c, job.ID, job.Owner.ID, job.Started.OrgID); err != nil {
			return err
		}
		ev, err := job.DecideLegalHold(on, reason)
		if err != nil {
			return err
		}
		env, err := events.New(job.ID, c.Actor, ev)
		if err != nil {
			return err
		}
		seq, err := h.store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(job.ID), Seq: job.ControlSeq})
		res = LegalHoldResult{JobID: job.ID, On: on, Seq: seq}
		return err
	})
	return res, err
}
