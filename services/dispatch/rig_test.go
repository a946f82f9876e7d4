package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/natsx"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/secrets"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/pipeline"
)

// Rig is the one test setup of this package (exported to dispatch_test
// through this _test file): embedded JetStream in a temp dir, the real
// store, task queue and secret store, and the loops it starts, all
// stopped and waited for when the test ends (goleak checks afterwards).
type Rig struct {
	Ctx     context.Context
	Conn    *natsx.Conn
	Store   events.Store
	Queue   *TaskQueue
	Secrets *secrets.Store
	// SecretStore is what Dispatcher and Worker use: Secrets unless a
	// test wraps it (to make lookups fail, say) before starting them.
	SecretStore services.SecretStore
	Log         *slog.Logger
	wg          sync.WaitGroup
}

// NewRig starts NATS and opens the stores; tasks are redelivered after
// ackWait.
func NewRig(t *testing.T, ackWait time.Duration) *Rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	conn := natstest.Start(t, "")
	store, err := jsstore.Open(ctx, conn.JS, jsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := OpenTaskQueue(ctx, conn.JS, 1, ackWait)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := secrets.Open(ctx, conn.JS, 1, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	r := &Rig{Ctx: ctx, Conn: conn, Store: store, Queue: queue, Secrets: sec, SecretStore: sec, Log: slog.New(slog.DiscardHandler)}
	t.Cleanup(func() { cancel(); r.wg.Wait() })
	return r
}

// Go runs fn until the test ends.
func (r *Rig) Go(fn func(context.Context) error) {
	r.wg.Add(1)
	go func() { defer r.wg.Done(); _ = fn(r.Ctx) }()
}

// Dispatcher returns a dispatcher on the rig; the caller runs it with Go
// (after setting its hooks, if any).
func (r *Rig) Dispatcher() *Dispatcher {
	return NewDispatcher(r.Conn.JS, r.Store, r.Queue, r.SecretStore, r.Log)
}

// Worker returns a worker with tagger; cfg's ID, Log and ShutdownGrace get
// defaults. The caller runs it with Go.
func (r *Rig) Worker(tagger pipeline.Tagger, cfg WorkerConfig) *Worker {
	if cfg.ID == "" {
		cfg.ID = "w"
	}
	if cfg.Log == nil {
		cfg.Log = r.Log
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = time.Second
	}
	return NewWorker(r.Store, r.Queue, r.SecretStore, tagger, cfg)
}

// Start starts a job of docs documents (distinct files, so no two rows
// are twins) for owner (keyword model unless cfg names one).
func (r *Rig) Start(t *testing.T, owner string, docs int, cfg services.StartConfig) services.StartResult {
	t.Helper()
	rows := make([]map[string]any, docs)
	for i := range rows {
		rows[i] = map[string]any{"file_path": fmt.Sprintf("doc-%d.pdf", i)}
	}
	if cfg.Model == "" {
		cfg.Model = services.KeywordsModel
	}
	res, err := services.NewStartJobHandler(r.Store, r.SecretStore, 100, false).Handle(r.Ctx, services.StartJob{
		Caller: r.Caller(owner), Documents: rows, Config: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Caller is owner as a signed-in user.
func (r *Rig) Caller(owner string) services.Caller {
	return services.Caller{Actor: events.User(owner, owner+"@example.com")}
}
