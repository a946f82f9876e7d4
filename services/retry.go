package services

import (
	"context"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// RetryJob re-runs the failed (and optionally cancelled) documents of a
// finished job under the same job id, as a new attempt.
type RetryJob struct {
	JobID            string
	Caller           Caller
	APIKey           string
	Model            string // empty keeps the job's model
	Reason           string
	IncludeCancelled bool
}

// RetryResult says what the retry re-runs.
type RetryResult struct {
	JobID   string
	Attempt int
	Rows    []int
	Seq     uint64
}

// RetryJobHandler handles RetryJob.
type RetryJobHandler struct {
	store     events.Store
	secrets   SecretStore
	serverKey bool
}

// NewRetryJobHandler returns a handler.
func NewRetryJobHandler(store events.Store, secrets SecretStore, serverKey bool) RetryJobHandler {
	return RetryJobHandler{store: store, secrets: secrets, serverKey: serverKey}
}

// Handle picks the documents to re-run from the job's own history and
// appends JobRetried, guarded by the control sequence it checked.
func (h RetryJobHandler) Handle(ctx context.Context, cmd RetryJob) (RetryResult, error) {
	if err := checkReason(cmd.Reason); err != nil {
		return RetryResult{}, err
	}
	var res RetryResult
	err := jobpkg.WithRetry(ctx, 10, func() error {
		job, err := jobpkg.LoadFull(ctx, h.store, cmd.JobID)
		if err != nil {
			return err
		}
		if err := controllableBy(job, cmd.Caller); err != nil {
			return err
		}
		// Decide before storing a key, so a refused retry stores none.
		ev, err := job.Decide(jobpkg.Command{Action: jobpkg.ActionRetry, Reason: cmd.Reason,
			IncludeCancelled: cmd.IncludeCancelled, Config: job.Config})
		if err != nil {
			return err
		}
		cfg, key, err := h.config(job.Config, cmd)
		if err != nil {
			return err
		}
		retried := ev.(events.JobRetried)
		retried.Config = cfg
		attempt, rows := retried.Attempt, retried.Rows
		if key != "" {
			held, err := h.secrets.Claim(ctx, secretID(job.ID, attempt), key)
			if err != nil {
				return apperr.Wrap(err, "store api key")
			}
			if !held {
				// Another retry, with another key, is taking this attempt:
				// its key must stay the attempt's.
				return apperr.New(apperr.Conflict, "job %q is being retried by another request; reload it", job.ID)
			}
		}
		env, err := events.New(job.ID, cmd.Caller.Actor, retried)
		if err != nil {
			return err
		}
		seq, err := h.store.Append(ctx, env, &events.Expect{Subject: events.ControlSubject(job.ID), Seq: job.ControlSeq})
		if err != nil {
			return err
		}
		res = RetryResult{JobID: job.ID, Attempt: attempt, Rows: rows, Seq: seq}
		return nil
	})
	return res, err
}

// config decides the retry's model and key: a new key from the request,
// else the server's; the previous attempt's key was discarded when it ended.
func (h RetryJobHandler) config(prev events.JobConfig, cmd RetryJob) (events.JobConfig, string, error) {
	cfg := prev
	if m := strings.TrimSpace(cmd.Model); m != "" {
		if err := checkModel("model_name", m); err != nil {
			return cfg, "", err
		}
		cfg.Model = m
	}
	key, err := chooseKey(&cfg, cmd.APIKey, h.serverKey, "api_key",
		"is required: the job's key was discarded when it finished and this server has no key of its own")
	return cfg, key, err
}
