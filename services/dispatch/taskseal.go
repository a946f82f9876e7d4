package dispatch

import (
	"context"
	"errors"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
)

// TaskKeys hand out jobs' data keys (internal/datakeys). A task carries
// its document's path and title, and a work-queue message's bytes stay in
// the store files after it is acknowledged, so with keys set a task is
// sealed under its job's key like the document events, and an erasure
// reaches it too.
type TaskKeys interface {
	ForAppend(ctx context.Context, jobID string) (events.Cipher, error)
	ForRead(ctx context.Context, jobID string) (events.Cipher, error)
}

// SealWith makes the queue seal the tasks it enqueues and open the ones
// it hands out (tasks enqueued in the clear before still read).
func (q *TaskQueue) SealWith(keys TaskKeys) { q.keys = keys }

func (q *TaskQueue) seal(ctx context.Context, subject, jobID string, data []byte) ([]byte, error) {
	if q.keys == nil {
		return data, nil
	}
	c, err := q.keys.ForAppend(ctx, jobID)
	if err != nil {
		return nil, err
	}
	return c.Seal(data, []byte("task\x00"+subject)), nil
}

// errTaskGone means a sealed task no longer opens (its job was erased, or
// the bytes were altered): it is malformed. Any other error of open is
// the key store being unreachable: the task waits for redelivery.
var errTaskGone = errors.New("the task's data key was destroyed or the task was altered")

// open returns a task message's JSON.
func (q *TaskQueue) open(ctx context.Context, msg jetstream.Msg) ([]byte, error) {
	data := msg.Data()
	if len(data) == 0 || data[0] == '{' || q.keys == nil {
		return data, nil
	}
	parts := strings.Split(msg.Subject(), ".")
	if len(parts) != 3 {
		return nil, errTaskGone
	}
	c, err := q.keys.ForRead(ctx, parts[1])
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errTaskGone
	}
	plain, err := c.Open(data, []byte("task\x00"+msg.Subject()))
	if err != nil {
		return nil, errTaskGone
	}
	return plain, nil
}
