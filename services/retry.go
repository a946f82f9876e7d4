package services

import (
	"context"
	"sort"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
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
	err := withRetry(ctx, 10, func() error {
		job, err := loadControllable(ctx, h.store, cmd.JobID, cmd.Caller)
		if err != nil {
			return err
		}
		if !events.Terminal(job.Status) {
			return apperr.New(apperr.Conflict, "cannot retry a job that is %s; wait until it is finished or cancel it", job.Status)
		}
		rows, err := h.retryable(ctx, job.ID, cmd.IncludeCancelled)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			what := "failed"
			if cmd.IncludeCancelled {
				what = "failed or cancelled"
			}
			return apperr.New(apperr.Conflict, "job %s has no %s documents to retry", job.ID, what)
		}
		cfg, key, err := h.config(job.Config, cmd)
		if err != nil {
			return err
		}
		attempt := job.Attempt + 1
		if key != "" {
			if err := h.secrets.Put(ctx, secretID(job.ID, attempt), key); err != nil {
				return apperr.Wrap(err, "store api key")
			}
		}
		env, err := events.New(job.ID, cmd.Caller.Actor, events.JobRetried{Attempt: attempt, Rows: rows,
			IncludeCancelled: cmd.IncludeCancelled, Reason: cmd.Reason, Config: cfg})
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

// retryable folds the job's history and returns the rows that ended failed
// (or cancelled, when asked).
func (h RetryJobHandler) retryable(ctx context.Context, jobID string, cancelled bool) ([]int, error) {
	model := projections.NewJobStatus()
	if err := h.store.Read(ctx, events.JobSubjects(jobID), 1, model.Apply); err != nil {
		return nil, apperr.Wrap(err, "read job history")
	}
	var rows []int
	for row, st := range model.DocStatuses(jobID) {
		if st.Status == projections.DocFailed || (cancelled && st.Status == projections.DocCancelled) {
			rows = append(rows, row)
		}
	}
	sort.Ints(rows)
	return rows, nil
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
