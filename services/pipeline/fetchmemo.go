package pipeline

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// fetchMemo makes the same source in the same job cost one fetch per
// process: concurrent reads share one request (singleflight) and later
// reads take the bytes kept from the first. Bytes are kept per job, never
// shared across jobs (owners must not learn each other's documents), for
// at most memoTTL and within memoBytes in all, oldest first out.
type fetchMemo struct {
	group singleflight.Group

	mu    sync.Mutex
	order *list.List // of *memoEntry, most recent at the front
	byKey map[string]*list.Element
	size  int64
	max   int64
	ttl   time.Duration
	now   func() time.Time
}

type memoEntry struct {
	key  string
	data []byte
	at   time.Time
}

const (
	memoBytes = 128 << 20
	memoTTL   = 30 * time.Minute
)

func newFetchMemo(max int64, ttl time.Duration) *fetchMemo {
	return &fetchMemo{order: list.New(), byKey: map[string]*list.Element{}, max: max, ttl: ttl, now: time.Now}
}

// read returns the bytes for key, fetching them with fetch at most once at
// a time. A failed fetch is not remembered: the next row tries again.
func (m *fetchMemo) read(ctx context.Context, key string, fetch func(context.Context) ([]byte, error)) ([]byte, error) {
	if data, ok := m.get(key); ok {
		return data, nil
	}
	v, err, _ := m.group.Do(key, func() (any, error) {
		data, err := fetch(ctx)
		if err == nil {
			m.put(key, data)
		}
		return data, err
	})
	if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The shared fetch ran under another row's context, which ended;
		// that is not this row's failure.
		return fetch(ctx)
	}
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

func (m *fetchMemo) get(key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byKey[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*memoEntry)
	if m.now().Sub(e.at) > m.ttl {
		m.remove(el)
		return nil, false
	}
	m.order.MoveToFront(el)
	return e.data, true
}

func (m *fetchMemo) put(key string, data []byte) {
	if int64(len(data)) > m.max/4 {
		return // one huge document must not flush everything else
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.byKey[key]; ok {
		m.remove(el)
	}
	m.byKey[key] = m.order.PushFront(&memoEntry{key: key, data: data, at: m.now()})
	m.size += int64(len(data))
	for m.size > m.max {
		m.remove(m.order.Back())
	}
}

func (m *fetchMemo) remove(el *list.Element) {
	e := el.Value.(*memoEntry)
	m.order.Remove(el)
	delete(m.byKey, e.key)
	m.size -= int64(len(e.data))
}
