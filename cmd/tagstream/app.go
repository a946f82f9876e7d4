package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/internal/datakeys"
	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/internal/httpapi"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/metrics"
	"github.com/tagstream/tagstream/internal/natsx"
	"github.com/tagstream/tagstream/internal/secrets"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/internal/uploads"
	"github.com/tagstream/tagstream/internal/web"
	"github.com/tagstream/tagstream/internal/webhook"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
	"github.com/tagstream/tagstream/services/dispatch"
	"github.com/tagstream/tagstream/services/pipeline"
	"github.com/tagstream/tagstream/services/retention"
)

// roles says what a process runs: `serve` is both, `worker` only workers.
type roles struct {
	api     bool
	workers bool
}

// app is one wired Tagstream process.
type app struct {
	cfg   config
	roles roles
	log   *slog.Logger
	conn  *natsx.Conn
	// store seals and opens document data (events/sealed) around rawLog,
	// the log as stored, which only the hash-chained export reads.
	store  events.Store
	rawLog *jsstore.Store
	keys   *datakeys.Keys
	// governance erases jobs and sets legal holds (API processes); the
	// retention sweeper erases through it too.
	governance services.GovernanceHandler
	queue      *dispatch.TaskQueue
	cache      *dispatch.KVCache
	secrets    *secrets.Store
	uploads    *uploads.Store
	auth       *auth.Service
	orgs       *services.OrgDirectory // organisation roles, folded from orgs.*
	sso        *auth.Federation       // single sign-on; nil without TAGSTREAM_OIDC_ISSUER
	readDB     *sqldb.DB
	read       *projections.SQLRunner // the SQL read models, from their checkpoints
	jobs       *projections.JobQueries
	results    *projections.ResultQueries
	search     *projections.SearchReader // search, history statistics, analytics
	fresh      *projections.SQLRunner    // what commands wait on: every read model
	readFrom   uint64                    // the SQL models' lowest checkpoint at start: where the catch-up began
	tagger     pipeline.Tagger
	handler    http.Handler
	unlock     func()
	metrics    *metrics.Metrics
	skips      *events.Skips // events skipped as too new, by any reader
	// eraser is the erase command, for the retention sweeper.
	eraser retention.Eraser
	// readyAt is the log's last sequence when the read models started
	// rebuilding: /api/ready waits for the runner to reach it.
	readyAt uint64
	shared  // a read database shared with other serve processes (readlease.go)
}

// close drains NATS, stops the embedded server and frees the data dir.
func (a *app) close() {
	if a.auth != nil {
		a.auth.Close() // the revocation watch
	}
	if a.keys != nil {
		a.keys.Close() // the destroyed-keys watch
	}
	if a.sso != nil {
		a.sso.Provider.Close() // the signing-key refresh
	}
	a.releaseReadLease()
	a.conn.Close()
	if a.readDB != nil {
		a.readDB.Close()
	}
	a.unlock()
}

// openApp connects to NATS, creates streams and buckets idempotently and,
// for API processes, rebuilds the read models from the log.
func openApp(ctx context.Context, cfg config, r roles, tagger pipeline.Tagger, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, roles: r, log: log, tagger: tagger}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	unlock := func() {}
	if cfg.NatsURL == "" {
		var err error
		if unlock, err = lockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	a.unlock = unlock
	conn, err := natsx.Connect(ctx, natsConfig(cfg, log))
	if err != nil {
		unlock()
		return nil, err
	}
	a.conn = conn
	if err := a.open(ctx); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// natsConfig says where NATS is for this process.
func natsConfig(cfg config, log *slog.Logger) natsx.Config {
	return natsx.Config{URL: cfg.NatsURL, StoreDir: filepath.Join(cfg.DataDir, "jetstream"),
		Listen: cfg.NatsListen, Name: "tagstream", Log: log, Auth: natsx.Auth{
			User: cfg.NatsUser, Password: cfg.NatsPassword, CredsFile: cfg.NatsCreds,
			TLSCert: cfg.NatsTLSCert, TLSKey: cfg.NatsTLSKey, TLSCA: cfg.NatsTLSCA}}
}

func (a *app) open(ctx context.Context) error {
	var err error
	replicas := a.conn.Replicas()
	if a.rawLog, err = jsstore.Open(ctx, a.conn.JS, jsstore.Options{Replicas: replicas}); err != nil {
		return err
	}
	key, err := secrets.LoadOrCreateKey(a.cfg.DataDir, a.cfg.SecretsKey)
	if err != nil {
		return err
	}
	if err := a.openSealing(ctx, key); err != nil {
		return err
	}
	if a.queue, err = dispatch.OpenTaskQueue(ctx, a.conn.JS, replicas, a.cfg.AckWait); err != nil {
		return err
	}
	a.queue.SealWith(a.keys) // tasks carry paths and titles too
	if a.cache, err = dispatch.OpenContentCache(ctx, a.conn.JS, replicas); err != nil {
		return err
	}
	a.cache.SealWith(a.keys) // cached tags are document data
	if a.secrets, err = secrets.Open(ctx, a.conn.JS, replicas, key); err != nil {
		return err
	}
	// Uploads of single process: the API stores them, workers read them.
	room, _ := parseBytes(a.cfg.UploadsMax) // checked with the rest of the configuration
	if a.uploads, err = uploads.Open(ctx, a.conn.JS, replicas, uploads.DefaultTTL, a.cfg.MaxFetchBytes, room); err != nil {
		return err
	}
	if p, ok := a.tagger.(interface{ UseUploads(pipeline.UploadStore) }); ok {
		p.UseUploads(a.uploads)
	}
	a.metrics = metrics.New()
	a.skips = events.NewSkips(a.log, a.metrics.EventSkipped)
	if p, ok := a.tagger.(interface{ ObserveModel(llm.Observer) }); ok {
		p.ObserveModel(a.metrics)
	}
	// Learned provider limits are shared by every process using a key.
	if p, ok := a.tagger.(interface{ ShareModelLimits(llm.SharedLimits) }); ok {
		limits, err := openModelLimits(ctx, a.conn.JS, replicas)
		if err != nil {
			return err
		}
		p.ShareModelLimits(limits)
	}
	if !a.roles.api {
		return nil
	}
	if a.sso, err = openOIDC(ctx, a.cfg); err != nil {
		return err
	}
	if a.sso != nil {
		// Never the secret: only whether there is one.
		a.log.Info("single sign-on enabled", "issuer", a.cfg.OIDCIssuer, "client_id", a.cfg.OIDCClientID,
			"console_sign_in", a.sso.Provider.CanSignIn())
	}
	a.auth, err = auth.New(ctx, a.conn.JS, auth.Config{KeyDir: filepath.Join(a.cfg.DataDir, "keys"),
		Registration: a.cfg.Registration, Replicas: replicas, OIDC: a.sso})
	if err != nil {
		return err
	}
	if err := a.openReadSide(ctx); err != nil {
		return err
	}
	a.orgs = services.NewOrgDirectory()
	if err := a.orgs.CatchUp(ctx, a.store); err != nil {
		return fmt.Errorf("read organisations: %w", err)
	}
	orgCommands := services.NewOrgHandler(a.store).WithCallbacks(a.cfg.WebhookSecret != "", a.cfg.AllowPrivate)
	if a.sso != nil && a.cfg.OIDCOrgClaim != "" {
		mapping, _ := auth.ParseOrgMapping(a.cfg.OIDCOrgs) // checked by validate
		a.sso.Memberships = services.NewSSOMemberships(orgCommands, a.orgs, mapping, a.log)
	}
	a.metrics.Watch(metrics.State{JobsByStatus: a.jobsByStatus, Applied: a.fresh.Applied,
		LogLastSeq: a.store.LastSeq, TaskBacklog: a.taskBacklog, Projections: a.projectionStates,
		ReadLease: a.leaseMetric})
	a.governance = services.NewGovernanceHandler(a.store, a.keys, a.uploads.EraseJob, a.scrubReadDB)
	a.eraser = retentionEraser{a.governance}
	starter := services.NewStartJobHandler(a.store, a.secrets, a.cfg.MaxDocuments, a.cfg.LLMAPIKey != "").
		WithCallbacks(a.cfg.WebhookSecret != "", a.cfg.AllowPrivate).WithDigests(a.keys)
	a.handler = httpapi.New(httpapi.Deps{
		Auth:  a.auth,
		Start: starter,
		// A one-document job: its wait covers a dispatch, the document's
		// timeout and the outcome reaching the read models.
		Single:       services.NewProcessSingleHandler(starter, a.uploads, a.cfg.MaxFetchBytes),
		SingleWait:   a.cfg.DocTimeout + 30*time.Second,
		MaxDocuments: a.cfg.MaxDocuments,
		ExportRows:   a.cfg.ExportRows,
		Change:       services.NewChangeJobHandler(a.store),
		OrgCommands:  orgCommands,
		OrgDirectory: a.orgs,
		Retry:        services.NewRetryJobHandler(a.store, a.secrets, a.cfg.LLMAPIKey != ""),
		Governance:   a.governance,
		Validate:     services.NewValidatePathsHandler(fetch.New(fetchConfig(a.cfg))),
		Jobs:         a.jobs,
		Analytics:    a.search,
		Documents:    a.search,
		Results:      a.results,
		Events:       a.store,
		Freshness:    a.fresh,
		Tap:          a.read,
		Healthy:      a.conn.Healthy,
		CaughtUp:     func() (uint64, uint64) { return a.fresh.Applied(), a.readyAt },
		Projections:  a.readyProjections,
		ReadLease:    a.readLease,
		Skipped:      func() (uint64, string) { return a.skips.Total(), a.skips.Summary() },
		Requests:     a.metrics,
		Metrics:      a.metrics.Handler(),
		UI:           web.HandlerWithSSO(consoleSSO(a.sso, a.auth, a.cfg, key)),
		CursorKey:    derivedKey(key, "tagstream document cursor v2"),
		Log:          a.log,
		Version:      version,
		StartRate:    a.cfg.StartRate,
		// Whether, never what: the console picks builtin/keywords without one.
		ServerHasKey: a.cfg.LLMAPIKey != "",
		// Per client address too, so many accounts do not multiply the
		// per-user limits (flags for these belong with the other limits).
		RegisterRate:  httpapi.DefaultRegisterRate,
		AddrStartRate: a.cfg.StartRate * httpapi.AddrStartFactor,
	})
	return nil
}

// run serves until ctx is done, then shuts down in order: stop taking
// requests, stop taking tasks and let in-flight documents finish (or
// release them), stop the loops, drain NATS.
func (a *app) run(ctx context.Context, ln net.Listener) error {
	loops, stopLoops := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// goLoop runs a background loop and restarts it if it stops before
	// shutdown: a read model or dispatcher that gave up during a long NATS
	// outage must not stay frozen after NATS is back. Loops resume from
	// where they were (the runner from its applied sequence, the dispatcher
	// from its durable consumer).
	goLoop := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loops.Err() == nil {
				err := fn(loops)
				if loops.Err() != nil {
					return
				}
				a.log.Error("loop stopped; restarting", "loop", name, "err", err)
				select {
				case <-loops.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}
	stopOperator := func() {}
	if a.roles.api && a.cfg.NatsURL == "" {
		// This process holds the data dir: operator commands ask it.
		if stop, err := a.serveOperator(); err != nil {
			a.log.Warn("operator socket: projections rebuild will need serve stopped", "err", err)
		} else {
			stopOperator = stop
		}
	}
	if a.roles.api {
		wg.Add(1)
		go func() { defer wg.Done(); a.dropRetired(loops) }()
		goLoop("projections", a.read.Run)
		goLoop("organisations", func(ctx context.Context) error { return a.orgs.Run(ctx, a.store) })
		goLoop("reconciler", a.reconcile)
		if a.eraser != nil {
			// Every API process sweeps; erasing twice is a no-op.
			goLoop("retention", retention.New(a.store, a.eraser, retention.Config{Interval: a.cfg.RetentionInterval, Log: a.log}).Run)
		}
	}
	var worker *dispatch.Worker
	workCtx, stopWork := context.WithCancel(context.Background())
	workDone := make(chan struct{})
	if a.roles.workers {
		goLoop("dispatcher", a.dispatcher().Run)
		if a.cfg.WebhookSecret != "" {
			// Without a secret the deliveries wait in their durable
			// consumer for a process that can sign them.
			goLoop("webhooks", a.webhooks().Run)
		}
		host, _ := os.Hostname()
		worker = dispatch.NewWorker(a.store, a.queue, a.secrets, a.tagger, dispatch.WorkerConfig{
			ID: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), events.NewID()[:6]), Concurrency: a.cfg.Workers,
			ServerAPIKey: a.cfg.LLMAPIKey, DocTimeout: a.cfg.DocTimeout, ShutdownGrace: a.cfg.ShutdownGrace, Log: a.log,
			Metrics: a.metrics, Cache: a.cache,
			OnSkip: func(env events.Envelope, err error) { a.skips.Skip(events.ReaderWorker, env, err) },
		})
		go func() { _ = worker.Run(workCtx); close(workDone) }()
	} else {
		close(workDone)
	}
	var srv *http.Server
	srvErr := make(chan error, 1)
	handler := a.handler
	if !a.roles.api {
		handler = a.workerHandler()
	}
	if ln != nil {
		// Header/idle timeouts here, body/write deadlines per request and
		// connection caps: see internal/httpapi/timeouts.go, listener.go.
		srv = httpapi.NewHTTPServer(handler)
		capped := httpapi.LimitListener(ln, httpapi.DefaultMaxConns, httpapi.DefaultMaxConnsPerIP)
		go func() { srvErr <- srv.Serve(capped) }()
		a.log.Info("serving HTTP", "addr", ln.Addr().String())
		if a.roles.api {
			a.log.Info("Tagstream is ready", bannerAttrs(a.cfg, ln.Addr())...)
		}
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-srvErr:
	}
	a.log.Info("shutting down")
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	stopOperator()
	stopWork()
	<-workDone
	stopLoops()
	wg.Wait()
	a.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// dispatcher returns a dispatcher whose skipped and dead-lettered events
// reach the process's metrics and /api/ready.
func (a *app) dispatcher() *dispatch.Dispatcher {
	d := dispatch.NewDispatcher(a.conn.JS, a.store, a.queue, a.secrets, a.log)
	// A worker keeps a started document at most its deadline, heartbeating
	// the task; past that plus the ack wait and a margin, its process died.
	d.LostAfter = a.cfg.DocTimeout + a.cfg.AckWait + 2*time.Minute
	d.OnSkip = func(env events.Envelope, err error) { a.skips.Skip(events.ReaderDispatcher, env, err) }
	d.OnDeadLetter = func(events.Envelope, error) { a.metrics.EventDeadLettered() }
	return d
}

// webhooks returns the deliverer of job webhooks; validate has checked
// the secret.
func (a *app) webhooks() *dispatch.Webhooks {
	secret, _ := webhook.ParseSecret(a.cfg.WebhookSecret)
	sender := webhook.NewSender(webhook.Config{Secret: secret, AllowPrivate: a.cfg.AllowPrivate})
	return dispatch.NewWebhooks(a.conn.JS, a.store, sender, dispatch.WebhookConfig{Base: a.cfg.webhookRetry}, a.log)
}

func (a *app) reconcile(ctx context.Context) error {
	redispatch := a.dispatcher().Redispatch
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := services.Reconcile(ctx, a.store, a.jobs, redispatch); err != nil && ctx.Err() == nil {
				a.log.Warn("reconcile", "err", err)
			}
		}
	}
}

// jobsByStatus counts jobs per status for the jobs gauge, with every status
// present so a series does not vanish when its count drops to zero.
func (a *app) jobsByStatus() map[string]int {
	out := map[string]int{}
	for _, st := range []string{events.StatusPending, events.StatusProcessing, events.StatusPaused,
		events.StatusCompleted, events.StatusFailed, events.StatusCancelled} {
		out[st] = 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := a.jobs.CountByStatus(ctx, projections.Filter{})
	if err != nil {
		a.log.Warn("jobs gauge", "err", err)
	}
	for st, n := range counts {
		out[st] = n
	}
	return out
}

// taskBacklog is the number of tasks in the work-queue stream: a task stays
// there until a worker acknowledges it, so this is waiting plus in progress.
func (a *app) taskBacklog(ctx context.Context) (uint64, error) {
	st, err := a.conn.JS.Stream(ctx, dispatch.TaskStream)
	if err != nil {
		return 0, err
	}
	return st.CachedInfo().State.Msgs, nil
}

// workerHandler is what a worker-only process serves on
// TAGSTREAM_METRICS_ADDR: its metrics and a health check for probes.
func (a *app) workerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler())
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !a.conn.Healthy() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable","nats":"disconnected"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok","nats":"connected"}`))
	})
	return mux
}
