package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/natsx"
	"github.com/tagstream/tagstream/internal/secrets"
)

// operatorSettings are the only flags of the commands that read the log
// (events tail|export|verify, projections rebuild): where the log is, and
// how to reach it. Server tuning and secrets have no meaning there.
var operatorSettings = []string{"data-dir", "nats-url", "nats-user", "nats-password", "nats-creds",
	"nats-tls-cert", "nats-tls-key", "nats-tls-ca"}

// openLog connects to an existing log without starting workers or the API,
// and without creating anything: a data dir or NATS account that holds no
// log is refused, so a mistyped path never "exports 0 events" and passes
// verification.
func openLog(c *cobra.Command, cfg config) (*app, error) {
	ctx := c.Context()
	if cfg.NatsURL == "" {
		if err := hasLocalLog(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	a, err := connectOperator(c, cfg)
	if err != nil {
		return nil, err
	}
	conn := a.conn
	if _, err := conn.JS.Stream(ctx, events.Stream); err != nil {
		a.close()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("no event log (stream %s) %s: check --data-dir / TAGSTREAM_NATS_URL", events.Stream, where(cfg))
		}
		return nil, fmt.Errorf("open the event log %s: %w", where(cfg), err)
	}
	if a.rawLog, err = jsstore.Open(ctx, conn.JS, jsstore.Options{Replicas: conn.Replicas()}); err != nil {
		a.close()
		return nil, err
	}
	a.store = a.rawLog
	return a, nil
}

// openPlainLog is openLog for commands that read document data (tail,
// rebuild): a.store opens it with the data keys, under the master key
// (TAGSTREAM_SECRETS_KEY, else DATA_DIR/secrets.key). Without a master
// key, need refuses; otherwise the events are read as stored, document
// data sealed. The export always reads them as stored.
func openPlainLog(c *cobra.Command, cfg config, need bool) (*app, error) {
	a, err := openLog(c, cfg)
	if err != nil {
		return nil, err
	}
	env := cfg.SecretsKey
	if env == "" {
		env = os.Getenv("TAGSTREAM_SECRETS_KEY") // not a flag of operator commands
	}
	if _, statErr := os.Stat(filepath.Join(cfg.DataDir, "secrets.key")); env == "" && statErr != nil {
		if !need {
			return a, nil
		}
		a.close()
		return nil, fmt.Errorf("reading document data needs the master key: set TAGSTREAM_SECRETS_KEY or use the server's --data-dir")
	}
	key, err := secrets.LoadOrCreateKey(cfg.DataDir, env)
	if err == nil {
		err = a.openSealing(c.Context(), key)
	}
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// connectOperator reaches NATS the way serve does (the locked data dir's
// embedded server, or TAGSTREAM_NATS_URL with its credentials) without
// opening a port, starting workers or checking for a log.
func connectOperator(c *cobra.Command, cfg config) (*app, error) {
	log := slog.New(slog.DiscardHandler)
	unlock := func() {}
	if cfg.NatsURL == "" {
		var err error
		if unlock, err = lockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	nc := natsConfig(cfg, log)
	nc.Listen = "" // an operator command never opens a port
	conn, err := natsx.Connect(c.Context(), nc)
	if err != nil {
		unlock()
		return nil, err
	}
	return &app{cfg: cfg, log: log, conn: conn, unlock: unlock}, nil
}

func where(cfg config) string {
	if cfg.NatsURL != "" {
		return "at " + redactURLs(cfg.NatsURL)
	}
	return "in data dir " + cfg.DataDir
}

// redactURLs drops any user:password@ from a comma-separated URL list.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "[redacted]@" + p[at+1:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// hasLocalLog checks, before the embedded server could create one, that the
// data dir holds a JetStream store.
func hasLocalLog(dataDir string) error {
	st, err := os.Stat(filepath.Join(dataDir, "jetstream"))
	if err != nil || !st.IsDir() {
		return fmt.Errorf("no event log in data dir %s (expected %s): check --data-dir / TAGSTREAM_DATA_DIR, or set TAGSTREAM_NATS_URL",
			dataDir, filepath.Join(dataDir, "jetstream"))
	}
	return nil
}

// exportTrailer is the last line of an export: without it (or with other
// numbers) the export was cut off or edited.
type exportTrailer struct {
	Trailer *trailerBody `json:"trailer"`
}

type trailerBody struct {
	Events    int    `json:"events"`
	FinalHash string `json:"final_hash"`
}

func writeTrailer(w io.Writer, n int, final string) error {
	b, err := json.Marshal(exportTrailer{&trailerBody{Events: n, FinalHash: final}})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// verifyExport checks the hash chain of every line but the last, and that
// the last is a trailer naming the same count and final hash. It streams:
// each line is handed to the chain check only once the next one is read.
func verifyExport(ctx context.Context, r io.Reader) (int, string, error) {
	pr, pw := io.Pipe()
	type result struct {
		n     int
		final string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		n, final, err := events.Verify(pr)
		_ = pr.CloseWithError(err) // unblocks the writer if Verify stopped early
		done <- result{n, final, err}
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var last []byte
	var werr error
	for sc.Scan() && werr == nil && ctx.Err() == nil {
		if last != nil {
			_, werr = pw.Write(append(last, '\n'))
		}
		last = append(last[:0:0], sc.Bytes()...)
	}
	if err := sc.Err(); err != nil {
		_ = pw.CloseWithError(err)
	} else {
		_ = pw.Close()
	}
	res := <-done
	if res.err != nil {
		return res.n, res.final, res.err
	}
	if err := sc.Err(); err != nil {
		return res.n, res.final, err
	}
	if err := ctx.Err(); err != nil {
		return res.n, res.final, err
	}
	var t exportTrailer
	if last == nil || json.Unmarshal(last, &t) != nil || t.Trailer == nil {
		return res.n, res.final, fmt.Errorf("no trailer line: the export is truncated or incomplete (%d events read)", res.n)
	}
	if t.Trailer.Events != res.n || t.Trailer.FinalHash != res.final {
		return res.n, res.final, fmt.Errorf("trailer says %d events ending in %s, the lines hold %d ending in %s: lines were removed or added",
			t.Trailer.Events, t.Trailer.FinalHash, res.n, res.final)
	}
	return res.n, res.final, nil
}
