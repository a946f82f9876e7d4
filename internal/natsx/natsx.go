// Package natsx starts an embedded NATS server with JetStream or connects to
// external servers, so the rest of Tagstream only ever sees a connection.
package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says where NATS is.
type Config struct {
	// URL lists external servers (comma separated). Empty embeds a server.
	URL string
	// StoreDir is the embedded server's JetStream directory.
	StoreDir string
	// Listen, when set (host:port), also opens the embedded server to
	// clients over TCP, e.g. for `tagstream worker` on other machines.
	Listen string
	// Auth is presented by this client and, when embedding a server,
	// required by it. A server that listens must have credentials.
	Auth Auth
	// Name identifies this client in server monitoring.
	Name string
	Log  *slog.Logger
}

// Conn is a live connection and, when embedded, the server behind it.
type Conn struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	Server *server.Server // nil for external servers
	log    *slog.Logger

	replicas int // decided once at connect, see detectReplicas
}

// Connect embeds a server or dials the external ones. The client reconnects
// forever: during an outage calls fail fast instead of the process dying.
func Connect(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	c := &Conn{log: cfg.Log}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				cfg.Log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { cfg.Log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	authOpts, err := cfg.Auth.clientOptions(cfg.URL == "")
	if err != nil {
		return nil, err
	}
	opts = append(opts, authOpts...)
	url := cfg.URL
	if url == "" {
		ns, err := StartEmbedded(cfg.StoreDir, cfg.Listen, cfg.Auth)
		if err != nil {
			return nil, err
		}
		c.Server = ns
		opts = append(opts, nats.InProcessServer(ns))
	} else {
		opts = append(opts, nats.RetryOnFailedConnect(true))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		c.shutdownServer()
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	c.NC = nc
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(10*time.Second))
	if err != nil {
		c.Close()
		return nil, err
	}
	c.JS = js
	if err := c.waitJetStream(ctx); err != nil {
		c.Close()
		return nil, err
	}
	fresh := false
	c.replicas, fresh = c.detectReplicas(ctx)
	if c.replicas > 1 && fresh {
		if err := c.waitPlacement(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// StartEmbedded starts a JetStream server storing under dir. With listen
// empty it accepts in-process connections only; with listen set it needs
// credentials (ErrNoCredentials otherwise) and every client, in-process
// ones included, must present them.
func StartEmbedded(dir, listen string, auth Auth) (*server.Server, error) {
	if dir == "" {
		return nil, errors.New("natsx: embedded server needs a store directory")
	}
	opts := &server.Options{JetStream: true, StoreDir: dir, NoSigs: true, ServerName: "tagstream-embedded"}
	if listen != "" && !auth.hasCredentials() {
		return nil, ErrNoCredentials
	}
	if err := auth.serverOptions(opts); err != nil {
		return nil, err
	}
	if listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("natsx: listen address %q: %w", listen, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("natsx: listen port %q: %w", port, err)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsx: new server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("natsx: embedded server did not become ready")
	}
	return ns, nil
}

// waitJetStream retries until JetStream answers: a fresh cluster has no
// meta leader for a while and drops API requests without a reply.
func (c *Conn) waitJetStream(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.JS.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		if c.NC.IsClosed() {
			// The client gave up, e.g. after the server refused the
			// credentials twice: say why instead of waiting a minute.
			if last := c.NC.LastError(); last != nil {
				err = last
			}
			return fmt.Errorf("nats connection closed: %w", err)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("jetstream not available: %w", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Replicas is how many copies streams and buckets should keep: 3 on a
// cluster of at least three servers, else 1. It is decided once, at connect.
func (c *Conn) Replicas() int { return c.replicas }

// detectReplicas decides the replication factor. Counting nc.Servers() alone
// is not enough: with one URL configured, the other nodes are known only once
// the server's INFO lists them, and a process that starts while a node is
// down would count 2 and then scale every existing stream down to R1 through
// CreateOrUpdateStream. So existing streams win, then the cluster's size.
// fresh reports that the account has no streams yet.
func (c *Conn) detectReplicas(ctx context.Context) (replicas int, fresh bool) {
	if c.Server != nil {
		return 1, false
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	existing := 0
	streams := c.JS.ListStreams(lctx)
	for info := range streams.Info() {
		existing = max(existing, info.Config.Replicas)
	}
	if err := streams.Err(); err != nil {
		c.log.Warn("nats: listing streams to keep their replication", "err", err)
	}
	if existing > 0 {
		return existing, false
	}
	if c.NC.ConnectedClusterName() == "" {
		return 1, true // a single server, however many URLs name it
	}
	// JetStream answering means a meta leader, hence routes to a quorum;
	// the INFO naming the remaining nodes follows the route within moments.
	deadline := time.Now().Add(3 * time.Second)
	for len(c.NC.Servers()) < 3 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if len(c.NC.Servers()) >= 3 {
		return 3, true
	}
	return 1, true
}

// waitPlacement waits until the cluster can place a replicated stream. Right
// after a cluster forms, JetStream answers but refuses R3 streams for a few
// seconds ("no suitable peers for placement, peer offline", 10005) until
// every peer has reported in; creating a throwaway stream tells us when.
func (c *Conn) waitPlacement(ctx context.Context) error {
	name := "TAGSTREAM_PLACEMENT_PROBE_" + nats.NewInbox()[len(nats.InboxPrefix):]
	deadline := time.Now().Add(60 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.JS.CreateStream(actx, jetstream.StreamConfig{Name: name, Storage: jetstream.MemoryStorage,
			Replicas: c.replicas, MaxMsgs: 1, Subjects: []string{"_tagstream.probe." + name}})
		if err == nil {
			_ = c.JS.DeleteStream(actx, name)
		}
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("nats cluster cannot place %d replicas: %w", c.replicas, err)
		}
		c.log.Info("nats: waiting for the cluster to place replicated streams", "err", err)
		time.Sleep(500 * time.Millisecond)
	}
}

// Healthy reports whether the connection is up.
func (c *Conn) Healthy() bool { return c.NC != nil && c.NC.IsConnected() }

// Close drains the connection (pending publishes and acks are flushed) and
// shuts the embedded server down.
func (c *Conn) Close() {
	if c.NC != nil {
		if err := c.NC.Drain(); err != nil {
			c.NC.Close()
		}
		deadline := time.Now().Add(10 * time.Second)
		for !c.NC.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		c.NC.Close() // a drain that did not finish in time is cut short
	}
	c.shutdownServer()
}

func (c *Conn) shutdownServer() {
	if c.Server != nil {
		c.Server.Shutdown()
		c.Server.WaitForShutdown()
	}
}
