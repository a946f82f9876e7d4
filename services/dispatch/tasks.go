package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
)

// TaskStream holds one message per document attempt waiting for a worker.
// It is a work queue: a message disappears once a worker acknowledges it.
const TaskStream = "TAGSTREAM_TASKS"

// task is the work item for one document attempt. It carries everything a
// worker needs except the API key, which stays in the secret store.
type task struct {
	JobID    string           `json:"job_id"`
	Attempt  int              `json:"attempt"`
	Document events.Document  `json:"document"`
	Config   events.JobConfig `json:"config"`
	// Twins are later rows of the job with the same source: they take
	// this document's outcome (see groupTwins).
	Twins []events.Document `json:"twins,omitempty"`
	// deliveries is this delivery's number (the queue's, not stored).
	deliveries uint64
}

func taskSubject(jobID string, row int) string { return "tasks." + jobID + "." + strconv.Itoa(row) }
func jobTasks(jobID string) string             { return "tasks." + jobID + ".>" }

// taskConsumer names the durable consumer through which every worker takes
// one job's tasks. One consumer per job lets a paused job simply not be
// fetched from, while its in-flight tasks keep their redelivery guarantees.
func taskConsumer(jobID string) string { return "tag-" + jobID }

// TaskQueue is the JetStream work queue of document tasks.
type TaskQueue struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	ackWait time.Duration
	keys    TaskKeys // nil: tasks in the clear (taskseal.go)
}

// OpenTaskQueue creates the task stream if needed. ackWait is how long a
// task may go without a heartbeat before another worker gets it.
func OpenTaskQueue(ctx context.Context, js jetstream.JetStream, replicas int, ackWait time.Duration) (*TaskQueue, error) {
	if replicas <= 0 {
		replicas = 1
	}
	if ackWait <= 0 {
		ackWait = 60 * time.Second
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        TaskStream,
		Description: "Tagstream document tasks (work queue)",
		Subjects:    []string{"tasks.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		Replicas:    replicas,
		Duplicates:  30 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", TaskStream, err)
	}
	return &TaskQueue{js: js, stream: st, ackWait: ackWait}, nil
}

// ensureConsumer creates the job's task consumer if it does not exist.
func (q *TaskQueue) ensureConsumer(ctx context.Context, jobID string) error {
	_, err := q.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       taskConsumer(jobID),
		FilterSubject: jobTasks(jobID),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 10000,
		// No InactiveThreshold: a job may stay paused for days, and its
		// consumer must still be there when it resumes. The dispatcher
		// removes it when the job ends.
	})
	return err
}

// consumer returns the job's task consumer, or nil if it does not exist.
func (q *TaskQueue) consumer(ctx context.Context, jobID string) (jetstream.Consumer, error) {
	c, err := q.stream.Consumer(ctx, taskConsumer(jobID))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, nil
	}
	return c, err
}

// enqueue publishes tasks; the message id makes re-enqueueing the same
// attempt a no-op inside the dedup window, and workers skip stale tasks
// beyond it. idSuffix makes ids new for tasks queued again on purpose.
func (q *TaskQueue) enqueue(ctx context.Context, tasks []task, idSuffix string) error {
	futures := make([]jetstream.PubAckFuture, 0, len(tasks))
	for _, t := range tasks {
		data, err := json.Marshal(t)
		if err != nil {
			return err
		}
		id := fmt.Sprintf("%s-%d-%d%s", t.JobID, t.Document.Row, t.Attempt, idSuffix)
		subject := taskSubject(t.JobID, t.Document.Row)
		if data, err = q.seal(ctx, subject, t.JobID, data); err != nil {
			return fmt.Errorf("seal task %s: %w", id, err)
		}
		f, err := q.js.PublishAsync(subject, data, jetstream.WithMsgID(id))
		if err != nil {
			return fmt.Errorf("enqueue task %s: %w", id, err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("enqueue task: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// drop deletes a finished job's consumer and remaining tasks.
func (q *TaskQueue) drop(ctx context.Context, jobID string) error {
	if err := q.stream.DeleteConsumer(ctx, taskConsumer(jobID)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return err
	}
	return q.stream.Purge(ctx, jetstream.WithPurgeSubject(jobTasks(jobID)))
}
